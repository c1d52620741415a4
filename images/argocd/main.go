//go:build ignore

// The two Argo CD components core mode runs (the application controller and the repo server) in one binary that
// dispatches on its name, as argo-cd's own cmd/main.go does for all of them (the dispatch and the klog set-up follow
// that file of github.com/argoproj/argo-cd/v3, Copyright The Argo Authors, Apache License 2.0; see NOTICE).
// build.sh compiles this file inside a copy of the pinned argo-cd module (as cmd/spacefleet-argocd, the ignore
// constraint dropped), so it builds with that module's go.mod, replace directives and go.sum; the components are
// used as the library packages they are. Leaving out the CLI, the API server, the ApplicationSet and notification
// controllers keeps the build to the packages the harness runs.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "unsafe" // go:linkname

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/argoproj/argo-cd/v3/common"
	"github.com/argoproj/argo-cd/v3/util/log"
)

// grpc's DNS resolver does SRV (_grpclb._tcp) lookups when this is true (argo-cd issues 29857, 29989). Only the
// grpclb balancer sets it, at init; upstream's main links it (through components left out here) and turns it off
// with util/grpc.DisableSRVLookups, which panics when it finds it off already, as it is in this binary. Off either way.
//
//go:linkname grpcSRVLookups google.golang.org/grpc/internal/resolver/dns.EnableSRVLookups
var grpcSRVLookups bool

func init() {
	// as upstream: klog follows the configured log level and format
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

func main() {
	grpcSRVLookups = false
	name := filepath.Base(os.Args[0])
	if v := os.Getenv("ARGOCD_BINARY_NAME"); v != "" {
		name = v
	}
	var cmd *cobra.Command
	switch name {
	case common.CommandApplicationController:
		cmd = appcontroller.NewCommand()
	case common.CommandRepoServer:
		cmd = reposerver.NewCommand()
	default:
		fmt.Fprintf(os.Stderr, "%s: this image runs %s and %s only (by name or ARGOCD_BINARY_NAME)\n",
			name, common.CommandApplicationController, common.CommandRepoServer)
		os.Exit(2)
	}
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
