//go:build ignore

// CoreDNS with the plugins the kind node's Corefile uses (the one kubeadm writes: errors, health, ready,
// kubernetes, prometheus, forward, cache, loop, reload, loadbalance) plus log and hosts for debugging, instead of
// upstream's main, which links every plugin (cloud DNS providers' SDKs, etcd, dnstap, tracing: 1,356 packages,
// ~230 s of CPU on a cold machine, for plugins no node uses). CoreDNS documents this way of choosing plugins at
// compile time: import the plugin packages, call coremain.Run. build.sh copies this file into the node's add-on
// module (dropping the build constraint above, which keeps it out of this repository's own module).
package main

import (
	_ "github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
