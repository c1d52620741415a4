package secrets

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI plays the API server's Secret endpoints of one namespace: GET, POST (409 when it exists), PATCH
// (application/merge-patch+json of data), and 403 for the verb/name pairs in forbid. It records every write.
type fakeAPI struct {
	mu      sync.Mutex
	ns      string
	secrets map[string]map[string][]byte
	types   map[string]string
	labels  map[string]map[string]string
	forbid  map[string]bool // "create x", "get x", "patch x"
	writes  []string
	// raceOnCreate: the named Secret appears (made by "someone else") just before our POST
	raceOnCreate map[string]map[string][]byte
}

func newFake() *fakeAPI {
	return &fakeAPI{ns: "apps", secrets: map[string]map[string][]byte{}, types: map[string]string{},
		labels: map[string]map[string]string{}, forbid: map[string]bool{}, raceOnCreate: map[string]map[string][]byte{}}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	prefix := "/api/v1/namespaces/" + f.ns + "/secrets"
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	deny := func(verb, n string) bool {
		if f.forbid[verb+" "+n] {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(map[string]string{"reason": "Forbidden",
				"message": `secrets "` + n + `" is forbidden: User "system:serviceaccount:apps:x" cannot ` + verb + ` resource "secrets"`})
			return true
		}
		return false
	}
	switch r.Method {
	case http.MethodGet:
		if deny("get", name) {
			return
		}
		d, ok := f.secrets[name]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]string{"reason": "NotFound"})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"kind": "Secret", "data": d})
	case http.MethodPost:
		var obj struct {
			Type     string            `json:"type"`
			Data     map[string][]byte `json:"data"`
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		_ = json.NewDecoder(r.Body).Decode(&obj)
		n := obj.Metadata.Name
		if deny("create", n) {
			return
		}
		if d, ok := f.raceOnCreate[n]; ok {
			f.secrets[n] = d
			delete(f.raceOnCreate, n)
		}
		if _, ok := f.secrets[n]; ok {
			w.WriteHeader(http.StatusConflict)
			return
		}
		f.secrets[n], f.types[n], f.labels[n] = obj.Data, obj.Type, obj.Metadata.Labels
		f.writes = append(f.writes, "create "+n)
		w.WriteHeader(http.StatusCreated)
	case http.MethodPatch:
		if deny("patch", name) {
			return
		}
		if r.Header.Get("Content-Type") != "application/merge-patch+json" {
			w.WriteHeader(http.StatusUnsupportedMediaType)
			return
		}
		var p struct {
			Data map[string][]byte `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		d, ok := f.secrets[name]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		keys := []string{}
		for k, v := range p.Data {
			d[k] = v
			keys = append(keys, k)
		}
		f.writes = append(f.writes, "patch "+name+" "+strings.Join(keys, ","))
		_ = json.NewEncoder(w).Encode(map[string]any{"data": d})
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func run(t *testing.T, f *fakeAPI, specs []Spec) ([]Result, string, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	res, err := Ensure(context.Background(), NewClient(srv.URL, f.ns, "tok", srv.Client()), specs,
		func(k string) string { return testEnv[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	return res, logs.String(), err
}

var pwSpec = Spec{Name: "sf-postgresql-password", Labels: map[string]string{"app.kubernetes.io/instance": "sf"},
	Generate: map[string]string{"password": "password"},
	Adopt:    []Adopt{{Secret: "sf-database", Key: "password", As: "password"}},
	Fix:      "set postgresql.auth.password or postgresql.auth.existingSecret"}

var alnum32 = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

// testEnv is the Job's environment as the Set keys read it.
var testEnv = map[string]string{}

// A password values give is set (overwritten) in the Secret every client reads; an unchanged one writes nothing.
func TestSetsTheGivenPassword(t *testing.T) {
	testEnv["NEW_PASSWORD"] = "from-values"
	t.Cleanup(func() { delete(testEnv, "NEW_PASSWORD") })
	set := Spec{Name: "sf-postgresql-password", Set: map[string]string{"password": "NEW_PASSWORD"}}
	f := newFake()
	f.secrets["sf-postgresql-password"] = map[string][]byte{"password": []byte("generated-before"), "other": []byte("x")}
	res, logs, err := run(t, f, []Spec{set})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != "filled" || string(f.secrets["sf-postgresql-password"]["password"]) != "from-values" || string(f.secrets["sf-postgresql-password"]["other"]) != "x" {
		t.Fatalf("want the password set and every other key kept: %+v %v", res, f.secrets)
	}
	if strings.Contains(logs, "from-values") {
		t.Fatal("the log holds the password")
	}
	n := len(f.writes)
	if res, _, err = run(t, f, []Spec{set}); err != nil || res[0].Action != "kept" || len(f.writes) != n {
		t.Fatalf("the same password again writes nothing: %+v %v", res, err)
	}
	// missing Secret: created with it
	g := newFake()
	if _, _, err := run(t, g, []Spec{set}); err != nil || string(g.secrets["sf-postgresql-password"]["password"]) != "from-values" {
		t.Fatalf("created with the given password: %v %v", g.secrets, err)
	}
	// an empty value is an error, never an empty password
	testEnv["NEW_PASSWORD"] = ""
	if _, _, err := run(t, newFake(), []Spec{set}); err == nil {
		t.Fatal("an empty given password must be an error")
	}
}

func TestCreatesWhatIsMissingOnce(t *testing.T) {
	f := newFake()
	res, logs, err := run(t, f, []Spec{pwSpec})
	if err != nil {
		t.Fatal(err)
	}
	pw := f.secrets["sf-postgresql-password"]["password"]
	if !alnum32.Match(pw) {
		t.Fatalf("generated password %q: want 32 letters and digits", pw)
	}
	if res[0].Action != "created" || f.types["sf-postgresql-password"] != "Opaque" || f.labels["sf-postgresql-password"]["app.kubernetes.io/instance"] != "sf" {
		t.Fatalf("want an Opaque Secret created with the chart's labels; got %+v, type %q, labels %v", res, f.types["sf-postgresql-password"], f.labels["sf-postgresql-password"])
	}
	if strings.Contains(logs, string(pw)) {
		t.Fatal("the log holds the generated password")
	}
	// the second run (an upgrade, a GitOps re-sync) keeps it: no write at all
	res, _, err = run(t, f, []Spec{pwSpec})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != "kept" || len(f.writes) != 1 || !bytes.Equal(f.secrets["sf-postgresql-password"]["password"], pw) {
		t.Fatalf("second run: want kept with no write, got %+v, writes %v", res, f.writes)
	}
}

func TestFillsOnlyMissingKeys(t *testing.T) {
	f := newFake()
	f.secrets["sf-postgresql-password"] = map[string][]byte{"note": []byte("operator's own key")}
	res, _, err := run(t, f, []Spec{pwSpec})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != "filled" || len(f.writes) != 1 || f.writes[0] != "patch sf-postgresql-password password" {
		t.Fatalf("want one patch adding only password, got %+v %v", res, f.writes)
	}
	if string(f.secrets["sf-postgresql-password"]["note"]) != "operator's own key" || !alnum32.Match(f.secrets["sf-postgresql-password"]["password"]) {
		t.Fatalf("keys after the fill: %v", f.secrets["sf-postgresql-password"])
	}
}

func TestAdoptsTheOlderChartsPassword(t *testing.T) {
	f := newFake()
	f.secrets["sf-database"] = map[string][]byte{"password": []byte("kept-from-0.1.0"), "DATABASE_URL": []byte("postgres://...")}
	res, _, err := run(t, f, []Spec{pwSpec})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(f.secrets["sf-postgresql-password"]["password"]); got != "kept-from-0.1.0" {
		t.Fatalf("an upgrade must keep the password the release already has, got %q", got)
	}
	if len(res[0].Adopted) != 1 || !strings.Contains(res[0].Adopted[0], "sf-database/password") {
		t.Fatalf("result should say where it came from: %+v", res[0])
	}
	// an older Secret without the key (an inline URL release) adopts nothing
	g := newFake()
	g.secrets["sf-database"] = map[string][]byte{"DATABASE_URL": []byte("x")}
	if _, _, err := run(t, g, []Spec{pwSpec}); err != nil || !alnum32.Match(g.secrets["sf-postgresql-password"]["password"]) {
		t.Fatalf("no password to adopt: want a generated one, got %v err %v", g.secrets, err)
	}
}

func TestLosesACreateRaceGracefully(t *testing.T) {
	f := newFake()
	f.raceOnCreate["sf-postgresql-password"] = map[string][]byte{"password": []byte("the other run's")}
	res, _, err := run(t, f, []Spec{pwSpec})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Action != "kept" || string(f.secrets["sf-postgresql-password"]["password"]) != "the other run's" {
		t.Fatalf("after a 409 the other run's Secret wins and is kept: %+v %v", res, f.secrets)
	}
}

func TestForbiddenSaysWhatToDo(t *testing.T) {
	f := newFake()
	f.forbid["create sf-postgresql-password"] = true
	_, _, err := run(t, f, []Spec{pwSpec})
	if err == nil {
		t.Fatal("want an error when the API refuses the create")
	}
	for _, want := range []string{"secret sf-postgresql-password", "refused to create Secret sf-postgresql-password in namespace apps",
		`cannot create resource "secrets"`, "set postgresql.auth.password or postgresql.auth.existingSecret"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	f = newFake()
	f.forbid["get sf-database"] = true
	if _, _, err := run(t, f, []Spec{pwSpec}); err == nil || !strings.Contains(err.Error(), "refused to get Secret sf-database") {
		t.Fatalf("a refused adopt read is an error, not a silently new password: %v", err)
	}
}

func TestSelfSignedPair(t *testing.T) {
	f := newFake()
	spec := Spec{Name: "sf-web-selfsigned", Type: "kubernetes.io/tls",
		SelfSigned: &SelfSigned{CommonName: "sf-web", DNSNames: []string{"sf-web", "sf-web.apps.svc"}, Days: 3650}}
	if _, _, err := run(t, f, []Spec{spec}); err != nil {
		t.Fatal(err)
	}
	d := f.secrets["sf-web-selfsigned"]
	if f.types["sf-web-selfsigned"] != "kubernetes.io/tls" || !bytes.Equal(d["ca.crt"], d["tls.crt"]) {
		t.Fatalf("want a kubernetes.io/tls Secret whose ca.crt is the certificate: type %q", f.types["sf-web-selfsigned"])
	}
	pair, err := tls.X509KeyPair(d["tls.crt"], d["tls.key"])
	if err != nil {
		t.Fatalf("tls.crt and tls.key are not a pair: %v", err)
	}
	cert, _ := x509.ParseCertificate(pair.Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "sf-web.apps.svc", Roots: pool}); err != nil {
		t.Fatalf("a client that pins ca.crt must verify the server name: %v", err)
	}
	if left := time.Until(cert.NotAfter); left < 3640*24*time.Hour {
		t.Fatalf("valid for %s, want about 3650 days", left)
	}
	before := string(d["tls.crt"])
	if _, _, err := run(t, f, []Spec{spec}); err != nil || string(f.secrets["sf-web-selfsigned"]["tls.crt"]) != before {
		t.Fatalf("a second run must keep the pair clients pinned (err %v)", err)
	}
	if blk, _ := pem.Decode(d["tls.key"]); blk == nil || blk.Type != "PRIVATE KEY" {
		t.Fatal("tls.key is not a PKCS#8 PEM key")
	}
}

func TestParseSpecs(t *testing.T) {
	if _, err := ParseSpecs(""); err == nil {
		t.Fatal("empty spec must be an error")
	}
	if _, err := ParseSpecs(`[{"name":"x","generate":{"password":"bytes"}}]`); err == nil || !strings.Contains(err.Error(), "unknown generator") {
		t.Fatalf("unknown generator: %v", err)
	}
	if _, err := ParseSpecs(`[{"generate":{"password":"password"}}]`); err == nil {
		t.Fatal("a Secret without a name must be an error")
	}
	specs, err := ParseSpecs(`[{"name":"a","generate":{"password":"password"},"adopt":[{"secret":"b","key":"password","as":"password"}]}]`)
	if err != nil || len(specs) != 1 || specs[0].Adopt[0].Secret != "b" {
		t.Fatalf("got %+v, %v", specs, err)
	}
}

func TestPasswordIsRandom(t *testing.T) {
	a, _ := Password(32)
	b, _ := Password(32)
	if !alnum32.Match(a) || bytes.Equal(a, b) {
		t.Fatalf("two passwords %q %q", a, b)
	}
}
