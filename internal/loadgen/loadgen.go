// Package loadgen is `spacefleet loadgen`: a bounded HTTP load generator for measuring what users see during
// rollouts, evictions and database restarts. It is bounded in requests, time, concurrency and rate, and it
// only talks to loopback and private (cluster) addresses: it refuses any other host, and checks the address of
// every connection it opens.
package loadgen

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Bounds on the flags: the generator can never become an unbounded flood.
const (
	MaxRequests    = 1_000_000
	MaxDuration    = 30 * time.Minute
	MaxConcurrency = 64
	MaxRate        = 5000
)

// Options are the parsed flags.
type Options struct {
	URL         string
	Method      string
	Body        string
	Requests    int
	Duration    time.Duration
	Concurrency int
	Rate        float64
	Timeout     time.Duration
	KeepAlive   bool
	Insecure    bool
	Samples     int
}

// Result is printed as one JSON object on stdout.
type Result struct {
	URL       string         `json:"url"`
	Requests  int            `json:"requests"`
	OK        int            `json:"ok"`     // 2xx
	Failed    int            `json:"failed"` // anything else, transport errors included
	ByStatus  map[string]int `json:"by_status"`
	Errors    map[string]int `json:"errors"` // transport errors by class: connect-refused, connect-timeout, ... (no connection), timeout, reset, eof, other
	LatencyMS Latency        `json:"latency_ms"`
	// First and last failure, in seconds since the start; FailureWindow spans them (0 when nothing failed).
	FirstFailure  *float64 `json:"first_failure_s,omitempty"`
	LastFailure   *float64 `json:"last_failure_s,omitempty"`
	FailureWindow float64  `json:"failure_window_s"`
	ElapsedS      float64  `json:"elapsed_s"`
	// PerSecond[i] = [ok, failed] of the requests that started in second i.
	PerSecond [][2]int `json:"per_second"`
	Samples   []string `json:"samples,omitempty"` // the first distinct failures, truncated
}

// Latency percentiles of every request (failed ones included), in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ParseFlags reads args (after the subcommand name).
func ParseFlags(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.URL, "url", "", "target URL: a loopback, private or cluster (.svc) address, e.g. http://spacefleet-web/api/ships")
	fs.StringVar(&o.Method, "method", http.MethodGet, "GET or POST")
	fs.StringVar(&o.Body, "body", "", "request body (JSON) for POST")
	fs.IntVar(&o.Requests, "requests", 10000, fmt.Sprintf("stop after this many requests (1-%d)", MaxRequests))
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, fmt.Sprintf("stop after this long (at most %s)", MaxDuration))
	fs.IntVar(&o.Concurrency, "concurrency", 4, fmt.Sprintf("requests in flight at once (1-%d)", MaxConcurrency))
	fs.Float64Var(&o.Rate, "rate", 100, fmt.Sprintf("requests per second in all (0 < rate <= %d)", MaxRate))
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request timeout: a request still unanswered then counts as a timeout")
	fs.BoolVar(&o.KeepAlive, "keepalive", false, "reuse connections (default: a new connection per request, like a curl loop)")
	fs.BoolVar(&o.Insecure, "insecure", false, "https: do not verify the server certificate")
	fs.IntVar(&o.Samples, "samples", 5, "failure samples to report")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return o, o.validate()
}

func (o Options) validate() error {
	switch {
	case o.Requests < 1 || o.Requests > MaxRequests:
		return fmt.Errorf("-requests %d: want 1-%d", o.Requests, MaxRequests)
	case o.Duration <= 0 || o.Duration > MaxDuration:
		return fmt.Errorf("-duration %s: want more than 0 and at most %s", o.Duration, MaxDuration)
	case o.Concurrency < 1 || o.Concurrency > MaxConcurrency:
		return fmt.Errorf("-concurrency %d: want 1-%d", o.Concurrency, MaxConcurrency)
	case !(o.Rate > 0 && o.Rate <= MaxRate):
		return fmt.Errorf("-rate %g: want more than 0 and at most %d", o.Rate, MaxRate)
	case o.Timeout <= 0 || o.Timeout > time.Minute:
		return fmt.Errorf("-timeout %s: want more than 0 and at most 1m", o.Timeout)
	case o.Method != http.MethodGet && o.Method != http.MethodPost:
		return fmt.Errorf("-method %q: want GET or POST", o.Method)
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("-url %q: want an http:// or https:// URL with a host", o.URL)
	}
	return CheckHost(u.Hostname())
}

// CheckHost accepts loopback and private IP literals, and the names that stay inside a cluster or this
// machine: localhost, a single-label name (a Service in the pod's namespace) and *.svc / *.svc.<domain>
// names. Names are resolved at dial time, and every address must pass AllowedAddr.
func CheckHost(host string) error {
	if ip, err := netip.ParseAddr(host); err == nil {
		if !AllowedAddr(ip) {
			return fmt.Errorf("host %s is not a loopback or private (cluster) address: loadgen only targets this machine or a cluster", host)
		}
		return nil
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || !strings.Contains(h, ".") || strings.HasSuffix(h, ".svc") || strings.Contains(h, ".svc.") {
		return nil
	}
	return fmt.Errorf("host %q is not a cluster name (a Service name, *.svc, *.svc.cluster.local) or localhost: loadgen only targets this machine or a cluster", host)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10") // shared address space: some clusters' pod and Service ranges

// AllowedAddr: loopback, RFC 1918 / RFC 4193 private, or CGNAT space. Never public or link-local (metadata) addresses.
func AllowedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || cgnat.Contains(ip)
}

// guard refuses, at connect time, any address AllowedAddr does not accept (a name that resolved elsewhere).
func guard(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("loadgen: cannot read dial address %q: %w", address, err)
	}
	if !AllowedAddr(ap.Addr()) {
		return fmt.Errorf("loadgen: refusing to connect to %s: not a loopback or private (cluster) address", ap.Addr())
	}
	return nil
}

// Run generates the load and returns the result.
func Run(ctx context.Context, o Options) Result {
	dialer := &net.Dialer{Timeout: o.Timeout, Control: guard}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		DisableKeepAlives:   !o.KeepAlive,
		MaxIdleConnsPerHost: o.Concurrency,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: o.Insecure}, //nolint:gosec // opt-in flag for self-signed test servers
		ForceAttemptHTTP2:   false,
	}
	client := &http.Client{Transport: transport, Timeout: o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer transport.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	interval := time.Duration(float64(time.Second) / o.Rate)

	type sample struct {
		at      time.Duration
		latency time.Duration
		status  string // "200", "503", or "error:<class>"
		detail  string
	}
	var (
		mu      sync.Mutex
		samples []sample
		issued  int
	)
	// next hands out request slots: at most Requests, paced at Rate, until ctx ends.
	next := func() (time.Duration, bool) {
		mu.Lock()
		if issued >= o.Requests {
			mu.Unlock()
			return 0, false
		}
		due := time.Duration(issued) * interval
		issued++
		mu.Unlock()
		if wait := time.Until(start.Add(due)); wait > 0 {
			select {
			case <-ctx.Done():
				return 0, false
			case <-time.After(wait):
			}
		}
		return time.Since(start), ctx.Err() == nil
	}
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				at, ok := next()
				if !ok {
					return
				}
				t0 := time.Now()
				status, detail := do(client, o)
				s := sample{at: at, latency: time.Since(t0), status: status, detail: detail}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := Result{URL: o.URL, ByStatus: map[string]int{}, Errors: map[string]int{}, ElapsedS: round(elapsed.Seconds())}
	slices.SortFunc(samples, func(a, b sample) int { return int(a.at - b.at) })
	latencies := make([]float64, 0, len(samples))
	seen := map[string]bool{}
	for _, s := range samples {
		r.Requests++
		latencies = append(latencies, float64(s.latency)/float64(time.Millisecond))
		sec := int(s.at / time.Second)
		for len(r.PerSecond) <= sec {
			r.PerSecond = append(r.PerSecond, [2]int{})
		}
		if class, isErr := strings.CutPrefix(s.status, "error:"); isErr {
			r.Errors[class]++
		} else {
			r.ByStatus[s.status]++
		}
		if strings.HasPrefix(s.status, "2") {
			r.OK++
			r.PerSecond[sec][0]++
			continue
		}
		r.Failed++
		r.PerSecond[sec][1]++
		end := round((s.at + s.latency).Seconds())
		if r.FirstFailure == nil {
			at := round(s.at.Seconds())
			r.FirstFailure = &at
		}
		if r.LastFailure == nil || end > *r.LastFailure {
			r.LastFailure = &end
		}
		key := s.status + " " + s.detail
		if len(r.Samples) < o.Samples && !seen[key] {
			seen[key] = true
			r.Samples = append(r.Samples, fmt.Sprintf("t=%.2fs %s", s.at.Seconds(), key))
		}
	}
	if r.FirstFailure != nil {
		r.FailureWindow = round(*r.LastFailure - *r.FirstFailure)
	}
	r.LatencyMS = percentiles(latencies)
	return r
}

// do sends one request: the status code, or "error:<class>" and the error text.
func do(client *http.Client, o Options) (string, string) {
	var body io.Reader
	if o.Body != "" {
		body = strings.NewReader(o.Body)
	}
	// Whether a connection was had tells a request that reached the server from one that never got through; the
	// address it went to names who answered (behind a Service, its cluster IP: a stale or wrong name shows here).
	gotConn, remote := false, ""
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		gotConn = true
		if info.Conn != nil {
			remote = info.Conn.RemoteAddr().String()
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), o.Method, o.URL, body)
	if err != nil {
		return "error:other", err.Error()
	}
	if o.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		class := classify(err)
		if !gotConn && !strings.HasPrefix(class, "connect-") {
			class = "connect-" + class
		}
		return "error:" + class, truncate(err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "error:" + classify(err), truncate("reading the body: " + err.Error())
	}
	detail := strings.TrimSpace(string(b))
	if resp.StatusCode/100 != 2 {
		detail = strings.TrimSpace(detail + " " + answeredBy(remote, resp.Header))
	}
	return strconv.Itoa(resp.StatusCode), truncate(detail)
}

// answeredBy describes who sent a failed answer: the address connected to, and the Server and Content-Type
// headers when set, so an answer that cannot be the target's own (another server behind the name) is recognised.
func answeredBy(remote string, h http.Header) string {
	parts := []string{"from " + cmp.Or(remote, "?")}
	for _, k := range []string{"Server", "Content-Type"} {
		if v := h.Get(k); v != "" {
			parts = append(parts, strings.ToLower(k)+" "+v)
		}
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// classify names a transport error: connect-* when no connection was made (a closed port, a Service without
// ready endpoints, an unreachable address), otherwise what happened to the request on its connection.
func classify(err error) string {
	var ne net.Error
	var op *net.OpError
	prefix := ""
	if errors.As(err, &op) && op.Op == "dial" {
		prefix = "connect-"
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connect-refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return prefix + "reset"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return prefix + "timeout"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return prefix + "eof"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "connect-unreachable"
	}
	return prefix + "other"
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func percentiles(ms []float64) Latency {
	if len(ms) == 0 {
		return Latency{}
	}
	slices.Sort(ms)
	at := func(p float64) float64 {
		i := int(p*float64(len(ms))+0.5) - 1
		return round(ms[max(0, min(i, len(ms)-1))])
	}
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: round(ms[len(ms)-1])}
}

// Main is the subcommand: flags, run, one JSON line on stdout. Exit 0 when the load ran (the caller judges
// the result), 2 for bad flags or a refused address.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := ParseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "loadgen:", err)
		}
		return 2
	}
	r := Run(ctx, o)
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	return 0
}
