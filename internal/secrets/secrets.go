// Package secrets is `spacefleet secrets`: the chart's create-if-missing step for what it must invent (the bundled
// database's password, a trial self-signed web certificate). It runs in the cluster, once per install or upgrade
// (a hook Job), and only ever fills what is missing: a Secret that exists keeps every key it has, a key that is
// missing is added, nothing is overwritten. So no generated value is ever rendered by Helm or Argo CD (two renders
// of one set of values are the same bytes), and none changes on an upgrade, a rollback or a GitOps refresh.
//
// What to ensure comes from SPACEFLEET_SECRETS (JSON, rendered by the chart; it names Secrets and keys, never a
// value). The Kubernetes API is reached with the pod's ServiceAccount token; the chart's Role allows get and patch of
// exactly the named Secrets, get of the Secrets it may adopt a value from, and create (Kubernetes cannot limit
// create to a name).
package secrets

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"time"
)

// Spec is one Secret to ensure.
type Spec struct {
	Name   string            `json:"name"`
	Type   string            `json:"type,omitempty"` // default Opaque
	Labels map[string]string `json:"labels,omitempty"`
	// Keys to generate when missing: key -> how ("password": 32 random letters and digits).
	Generate map[string]string `json:"generate,omitempty"`
	// Adopt: where a missing key's value may already live (a release of an older chart kept the generated password
	// in its own Secret): copied from there instead of generated, so an upgrade keeps the password.
	Adopt []Adopt `json:"adopt,omitempty"`
	// SelfSigned: a trial certificate (tls.crt, tls.key, ca.crt = the certificate itself) when tls.crt or tls.key is
	// missing.
	SelfSigned *SelfSigned `json:"selfSigned,omitempty"`
	// Set: keys whose value is given (key -> the env var holding it, e.g. from a Secret the chart rendered from
	// values): written when missing or different, so the Secret follows what values say. Generate and Adopt only
	// fill; Set overwrites its own keys.
	Set map[string]string `json:"set,omitempty"`
	// Fix: the values change that makes this Secret unnecessary, for the error when the API refuses.
	Fix string `json:"fix,omitempty"`
}

// Adopt copies Key of Secret Secret into key As.
type Adopt struct {
	Secret string `json:"secret"`
	Key    string `json:"key"`
	As     string `json:"as"`
}

// SelfSigned describes the trial certificate.
type SelfSigned struct {
	CommonName string   `json:"commonName"`
	DNSNames   []string `json:"dnsNames"`
	Days       int      `json:"days"`
}

// ParseSpecs reads SPACEFLEET_SECRETS.
func ParseSpecs(s string) ([]Spec, error) {
	if s == "" {
		return nil, errors.New("SPACEFLEET_SECRETS is empty: the chart renders it (the secrets Job's env); nothing to ensure")
	}
	var specs []Spec
	if err := json.Unmarshal([]byte(s), &specs); err != nil {
		return nil, fmt.Errorf("SPACEFLEET_SECRETS is not the chart's JSON: %w", err)
	}
	for _, sp := range specs {
		if sp.Name == "" {
			return nil, errors.New("SPACEFLEET_SECRETS: a Secret without a name")
		}
		for k, how := range sp.Generate {
			if how != "password" {
				return nil, fmt.Errorf("SPACEFLEET_SECRETS: %s key %s: unknown generator %q", sp.Name, k, how)
			}
		}
		for k, env := range sp.Set {
			if env == "" {
				return nil, fmt.Errorf("SPACEFLEET_SECRETS: %s key %s: set from which env var?", sp.Name, k)
			}
		}
	}
	return specs, nil
}

// API is what Ensure needs of the Kubernetes API (Client implements it; the tests fake it).
type API interface {
	// GetSecret returns the Secret's data, or found=false when it does not exist.
	GetSecret(ctx context.Context, name string) (data map[string][]byte, found bool, err error)
	// CreateSecret creates it; exists=true when another run created it first.
	CreateSecret(ctx context.Context, name, typ string, labels map[string]string, data map[string][]byte) (exists bool, err error)
	// AddKeys adds keys to an existing Secret (a merge patch of data: keys it names only).
	AddKeys(ctx context.Context, name string, data map[string][]byte) error
}

// Result says what Ensure did to one Secret.
type Result struct {
	Name    string
	Action  string   // "created", "filled" (keys added or set), "kept" (nothing to write)
	Added   []string // keys written (names only)
	Adopted []string // of those, copied from an older Secret
}

// Ensure makes every Secret of specs exist with every key it needs, touching only what is missing (and the Set keys
// whose given value differs). getenv supplies the Set values (os.Getenv in the Job).
func Ensure(ctx context.Context, api API, specs []Spec, getenv func(string) string, log *slog.Logger) ([]Result, error) {
	var out []Result
	for _, sp := range specs {
		r, err := ensureOne(ctx, api, sp, getenv)
		if err != nil {
			var f *ForbiddenError
			if errors.As(err, &f) && sp.Fix != "" {
				f.Fix = sp.Fix
			}
			return out, fmt.Errorf("secret %s: %w", sp.Name, err)
		}
		log.Info("secret "+r.Action, "secret", r.Name, "keys_added", r.Added, "keys_adopted", r.Adopted)
		out = append(out, r)
	}
	return out, nil
}

func ensureOne(ctx context.Context, api API, sp Spec, getenv func(string) string) (Result, error) {
	// a create that loses a race with another run (a second install, a retried Job) reads again and fills
	for attempt := 0; attempt < 3; attempt++ {
		have, found, err := api.GetSecret(ctx, sp.Name)
		if err != nil {
			return Result{}, err
		}
		add, adopted, err := missing(ctx, api, sp, have, getenv)
		if err != nil {
			return Result{}, err
		}
		r := Result{Name: sp.Name, Added: sortedKeys(add), Adopted: adopted}
		switch {
		case found && len(add) == 0:
			r.Action = "kept"
			return r, nil
		case found:
			r.Action = "filled"
			return r, api.AddKeys(ctx, sp.Name, add)
		}
		typ := sp.Type
		if typ == "" {
			typ = "Opaque"
		}
		exists, err := api.CreateSecret(ctx, sp.Name, typ, sp.Labels, add)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			r.Action = "created"
			return r, nil
		}
	}
	return Result{}, fmt.Errorf("secret %s: created and deleted by someone else three times in a row; run the Job again", sp.Name)
}

// missing computes what Secret sp must get given what it has (nil when it does not exist): the keys it lacks, and the
// Set keys whose value differs from the given one.
func missing(ctx context.Context, api API, sp Spec, have map[string][]byte, getenv func(string) string) (map[string][]byte, []string, error) {
	add := map[string][]byte{}
	var adopted []string
	for _, k := range sortedKeys(sp.Set) {
		v := getenv(sp.Set[k])
		if v == "" {
			return nil, nil, fmt.Errorf("key %s is to be set from env %s, which is empty", k, sp.Set[k])
		}
		if string(have[k]) != v {
			add[k] = []byte(v)
		}
	}
	need := func(k string) bool {
		if _, given := sp.Set[k]; given {
			return false
		}
		_, ok := have[k]
		return !ok
	}
	for _, k := range sortedKeys(sp.Generate) {
		if !need(k) {
			continue
		}
		v, from, err := adopt(ctx, api, sp.Adopt, k)
		if err != nil {
			return nil, nil, err
		}
		if v != nil {
			add[k] = v
			adopted = append(adopted, k+" (from Secret "+from+")")
			continue
		}
		if add[k], err = Password(32); err != nil {
			return nil, nil, err
		}
	}
	if ss := sp.SelfSigned; ss != nil && (need("tls.crt") || need("tls.key")) {
		crt, key, err := SelfSignedPair(*ss, time.Now())
		if err != nil {
			return nil, nil, err
		}
		add["tls.crt"], add["tls.key"] = crt, key
		if need("ca.crt") {
			add["ca.crt"] = crt
		}
	}
	return add, adopted, nil
}

// adopt returns the value key may take from an older Secret (nil when none has it).
func adopt(ctx context.Context, api API, from []Adopt, key string) ([]byte, string, error) {
	for _, a := range from {
		if a.As != key {
			continue
		}
		data, found, err := api.GetSecret(ctx, a.Secret)
		if err != nil {
			return nil, "", err
		}
		if v, ok := data[a.Key]; found && ok && len(v) > 0 {
			return v, a.Secret + "/" + a.Key, nil
		}
	}
	return nil, "", nil
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Password returns n random letters and digits (crypto/rand, no modulo bias): safe in a URI, a shell and SQL.
func Password(n int) ([]byte, error) {
	out := make([]byte, n)
	max := big.NewInt(int64(len(passwordAlphabet)))
	for i := range out {
		j, err := rand.Int(rand.Reader, max)
		if err != nil {
			return nil, err
		}
		out[i] = passwordAlphabet[j.Int64()]
	}
	return out, nil
}

// SelfSignedPair returns a PEM certificate and PKCS#8 key: ECDSA P-256, valid from now-1h for ss.Days days, for
// ss.DNSNames (server authentication). It is its own issuer, so a client may pin it as ca.crt.
func SelfSignedPair(ss SelfSigned, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(ss.DNSNames) == 0 {
		return nil, nil, errors.New("a self-signed certificate needs at least one DNS name")
	}
	days := ss.Days
	if days <= 0 {
		days = 3650
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	cn := ss.CommonName
	if cn == "" {
		cn = ss.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Spacefleet (self-signed, for trials)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Duration(days) * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              ss.DNSNames,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	k8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}), nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
