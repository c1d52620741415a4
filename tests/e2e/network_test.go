//go:build e2e

package e2e

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestServiceRangeStaysInTheCluster: a connection to an address of the Service range that kube-proxy does not
// translate (here one no Service holds; in a suite, a Service's own address in the instant its endpoints change)
// fails to connect, as on any network, instead of being answered by whatever the node's default route leads to.
// On this machine that is an egress proxy answering every port-80 request with an empty 404, which the database
// restart of TestZeroDowntime once counted as three answers from the app. scripts/kind-cluster.sh seals the range
// on every node (seal_service_range); without it this suite sees those 404s.
func TestServiceRangeStaysInTheCluster(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	ns := h.NewNamespace(t, env, "e2e-svcrange")
	ctx := context.Background()
	cidr, err := ns.Client.NetworkingV1().ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{})
	require.NoError(t, err, "the cluster's default ServiceCIDR")
	require.NotEmpty(t, cidr.Spec.CIDRs)
	prefix := netip.MustParsePrefix(cidr.Spec.CIDRs[0])
	require.True(t, prefix.Addr().Is4(), "an IPv4 Service range (the harness's clusters are IPv4): %s", prefix)
	svcs, err := ns.Client.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	held := map[netip.Addr]bool{}
	for _, s := range svcs.Items {
		for _, ip := range s.Spec.ClusterIPs {
			if a, err := netip.ParseAddr(ip); err == nil {
				held[a] = true
			}
		}
	}
	// the range's last address but one, or the next free one below it
	last := prefix.Masked().Addr().As4()
	binary.BigEndian.PutUint32(last[:], binary.BigEndian.Uint32(last[:])|(1<<(32-prefix.Bits())-1)-1)
	addr := netip.AddrFrom4(last)
	for held[addr] {
		addr = addr.Prev()
	}
	r := h.StartLoadgen(t, ns, "svcrange-"+h.RandHex(2), "-url", "http://"+addr.String()+"/api/ships",
		"-requests", "5", "-rate", "5", "-concurrency", "1", "-timeout", "5s", "-duration", "1m").Wait(t, 3*time.Minute)
	require.Equal(t, 5, r.Requests, "every request sent: %s", h.Summary(r))
	assert.Empty(t, r.ByStatus, "%s (in the Service range %s, held by no Service) answered: the node let it out: %s", addr, prefix, h.Summary(r))
	for class := range r.Errors {
		assert.True(t, strings.HasPrefix(class, "connect-"), "%s: failed after connecting (%s): %s", addr, class, h.Summary(r))
	}
	t.Logf("%s (Service range %s, no Service): %v", addr, prefix, r.Errors)
}
