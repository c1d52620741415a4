// Command registry is the harness's local OCI registry: distribution's own registry (used as a library, pinned in
// go.mod) with only the filesystem and in-memory storage drivers, so it builds in a fraction of cmd/registry's time
// (no S3, Azure or GCS SDKs). Run it as `registry serve CONFIG.yml`, like cmd/registry.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
