package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacefleet/spacefleet/internal/loadgen"
)

func TestCheckHost(t *testing.T) {
	for host, ok := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.96.0.12": true, "172.18.0.3": true, "192.168.1.9": true, "fd00::1": true,
		"100.64.3.4": true, "localhost": true, "spacefleet-web": true, "spacefleet-web.ns.svc": true,
		"spacefleet-web.ns.svc.cluster.local": true, "spacefleet-web.ns.svc.cluster.local.": true,
		"8.8.8.8": false, "169.254.169.254": false, "2001:4860::8888": false, "example.com": false,
		"api.example.com": false, "metadata.google.internal": false, "0.0.0.0": false,
	} {
		if err := loadgen.CheckHost(host); (err == nil) != ok {
			t.Errorf("CheckHost(%q) = %v, want allowed %v", host, err, ok)
		}
	}
}

// The connection guard refuses a public address even when the flag check was bypassed (a name that resolved
// outside the cluster looks the same at dial time): nothing is sent.
func TestGuardRefusesPublicAddressAtDial(t *testing.T) {
	o, err := loadgen.ParseFlags([]string{"-url", "http://127.0.0.1/", "-requests", "1", "-rate", "10"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o.URL = "http://8.8.8.8/"
	r := loadgen.Run(context.Background(), o)
	if r.Failed != 1 || len(r.Samples) != 1 || !strings.Contains(r.Samples[0], "refusing to connect to 8.8.8.8") {
		t.Fatalf("dial to a public address: %+v", r)
	}
}

func TestFlagBounds(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "http://127.0.0.1/", "-requests", "0"},
		{"-url", "http://127.0.0.1/", "-requests", "1000001"},
		{"-url", "http://127.0.0.1/", "-duration", "31m"},
		{"-url", "http://127.0.0.1/", "-concurrency", "65"},
		{"-url", "http://127.0.0.1/", "-rate", "0"},
		{"-url", "http://127.0.0.1/", "-rate", "5001"},
		{"-url", "http://127.0.0.1/", "-method", "DELETE"},
		{"-url", "ftp://127.0.0.1/"},
		{"-url", "http://example.com/"},
		{"-url", "http://127.0.0.1/", "extra"},
		{},
	} {
		if _, err := loadgen.ParseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("ParseFlags(%q) accepted", args)
		}
	}
}

// A server that fails for a while in the middle: every request is counted once, failures by status, the
// failure window brackets the failing period, and the request bound holds.
func TestRun(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			http.Error(w, `{"error":"database unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	time.AfterFunc(500*time.Millisecond, func() { failing.Store(true) })
	time.AfterFunc(1000*time.Millisecond, func() { failing.Store(false) })
	o, err := loadgen.ParseFlags([]string{"-url", srv.URL + "/api/ships", "-requests", "150", "-duration", "20s", "-rate", "100", "-concurrency", "4"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r := loadgen.Run(context.Background(), o)
	t.Logf("%+v", r)
	if r.Requests != 150 || r.OK+r.Failed != r.Requests || r.ByStatus["200"] != r.OK || r.ByStatus["503"] != r.Failed {
		t.Fatalf("counts: %+v", r)
	}
	if r.Failed == 0 || r.FirstFailure == nil || *r.FirstFailure < 0.4 || r.FailureWindow <= 0 || r.FailureWindow > 5 {
		t.Fatalf("failure window: first %v, window %v, failed %d", r.FirstFailure, r.FailureWindow, r.Failed)
	}
	sum := 0
	for _, s := range r.PerSecond {
		sum += s[0] + s[1]
	}
	if sum != r.Requests {
		t.Errorf("per-second buckets hold %d requests, want %d", sum, r.Requests)
	}
	if len(r.Samples) != 1 || !strings.Contains(r.Samples[0], "503 {\"error\":\"database unavailable\"}") {
		t.Errorf("samples %q, want the one distinct failure", r.Samples)
	}
	if r.LatencyMS.P50 <= 0 || r.LatencyMS.P50 > r.LatencyMS.P99 || r.LatencyMS.P99 > r.LatencyMS.Max {
		t.Errorf("latency %+v", r.LatencyMS)
	}
}

// Transport failures are classified: a closed port is connect-refused, a server that never answers a timeout.
func TestTransportErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/"
	l.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	for url, class := range map[string]string{closed: "connect-refused", hang.URL: "timeout"} {
		o, err := loadgen.ParseFlags([]string{"-url", url, "-requests", "3", "-rate", "100", "-timeout", "300ms"}, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if r := loadgen.Run(context.Background(), o); r.Errors[class] != 3 || r.Failed != 3 {
			t.Errorf("%s: %+v, want 3 %s", url, r, class)
		}
	}
}

func TestMain_JSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	var out, errb bytes.Buffer
	if code := loadgen.Main(context.Background(), []string{"-url", srv.URL, "-requests", "5", "-rate", "50"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r loadgen.Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.OK != 5 {
		t.Fatalf("output %s (%v)", out.String(), err)
	}
	if code := loadgen.Main(context.Background(), []string{"-url", "http://example.com/"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "cluster") {
		t.Fatalf("public host: exit %d, %s", code, errb.String())
	}
}

// A failed answer says who sent it: the address connected to and the server's own headers, so an answer that is
// not the target's (another server behind the name, an empty 404) can be traced to where it came from.
func TestFailedAnswerNamesWhoSentIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.Header().Set("Server", "elsewhere/1.0")
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	o, err := loadgen.ParseFlags([]string{"-url", srv.URL + "/missing", "-requests", "1", "-rate", "10"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r := loadgen.Run(context.Background(), o)
	want := "404 [from " + srv.Listener.Addr().String() + "; server elsewhere/1.0]"
	if r.ByStatus["404"] != 1 || len(r.Samples) != 1 || !strings.HasSuffix(r.Samples[0], want) {
		t.Fatalf("a 404 from another server: samples %q, want one ending %q", r.Samples, want)
	}
	o.URL = srv.URL + "/ok"
	if r := loadgen.Run(context.Background(), o); r.OK != 1 || len(r.Samples) != 0 {
		t.Fatalf("a 200 is not a failure and has no sample: %+v", r)
	}
}
