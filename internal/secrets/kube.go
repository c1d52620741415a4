package secrets

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// The in-cluster ServiceAccount files (kubelet mounts them when automountServiceAccountToken is true).
const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Client is the few Secret calls Ensure makes, over the API server's REST interface with the pod's token (no
// client-go: three requests do not need it, and the app image stays small).
type Client struct {
	Base      string // https://host:port
	Namespace string
	HTTP      *http.Client
	token     func() (string, error)
}

// InCluster builds a Client from the pod's environment: KUBERNETES_SERVICE_HOST/PORT, the ServiceAccount token and
// CA, and the namespace (POD_NAMESPACE from the downward API, else the ServiceAccount's).
func InCluster() (*Client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, errors.New("not in a Kubernetes pod: KUBERNETES_SERVICE_HOST/PORT are unset")
	}
	caPEM, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return nil, fmt.Errorf("no ServiceAccount token mounted (%v): the secrets Job needs automountServiceAccountToken: true", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New(saDir + "/ca.crt holds no certificate")
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		b, err := os.ReadFile(saDir + "/namespace")
		if err != nil {
			return nil, fmt.Errorf("namespace: POD_NAMESPACE unset and %v", err)
		}
		ns = strings.TrimSpace(string(b))
	}
	return &Client{
		Base:      "https://" + net.JoinHostPort(host, port),
		Namespace: ns,
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
		// read at each request: kubelet rotates projected tokens
		token: func() (string, error) {
			b, err := os.ReadFile(saDir + "/token")
			return strings.TrimSpace(string(b)), err
		},
	}, nil
}

// NewClient is a Client for base with a fixed token (tests).
func NewClient(base, namespace, token string, hc *http.Client) *Client {
	return &Client{Base: base, Namespace: namespace, HTTP: hc, token: func() (string, error) { return token, nil }}
}

// ForbiddenError is the API server refusing a call (403): the ServiceAccount lacks the permission, or a cluster
// policy forbids it. Fix names the values change that makes the Secret unnecessary (set by Ensure).
type ForbiddenError struct {
	Verb, Secret, Namespace, Message string
	Fix                              string
}

func (e *ForbiddenError) Error() string {
	msg := fmt.Sprintf("the Kubernetes API refused to %s Secret %s in namespace %s (403 Forbidden: %s). The chart's Role for this Job grants exactly that; check that it exists and that no cluster policy forbids it",
		e.Verb, e.Secret, e.Namespace, e.Message)
	if e.Fix != "" {
		msg += ", or " + e.Fix
	}
	return msg
}

type status struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
}

func (c *Client) do(ctx context.Context, method, path, contentType string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	tok, err := c.token()
	if err != nil {
		return 0, nil, fmt.Errorf("read the ServiceAccount token: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func (c *Client) secretPath(name string) string {
	p := "/api/v1/namespaces/" + url.PathEscape(c.Namespace) + "/secrets"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	return p
}

func (c *Client) fail(verb, name string, code int, body []byte) error {
	var st status
	_ = json.Unmarshal(body, &st)
	if code == http.StatusForbidden {
		return &ForbiddenError{Verb: verb, Secret: name, Namespace: c.Namespace, Message: st.Message}
	}
	if st.Message == "" {
		st.Message = strings.TrimSpace(string(body))
		if len(st.Message) > 300 {
			st.Message = st.Message[:300]
		}
	}
	return fmt.Errorf("%s Secret %s in namespace %s: HTTP %d: %s", verb, name, c.Namespace, code, st.Message)
}

// GetSecret implements API.
func (c *Client) GetSecret(ctx context.Context, name string) (map[string][]byte, bool, error) {
	code, body, err := c.do(ctx, http.MethodGet, c.secretPath(name), "", nil)
	switch {
	case err != nil:
		return nil, false, err
	case code == http.StatusNotFound:
		return nil, false, nil
	case code != http.StatusOK:
		return nil, false, c.fail("get", name, code, body)
	}
	var s struct {
		Data map[string][]byte `json:"data"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, false, fmt.Errorf("get Secret %s: %w", name, err)
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	return s.Data, true, nil
}

// CreateSecret implements API.
func (c *Client) CreateSecret(ctx context.Context, name, typ string, labels map[string]string, data map[string][]byte) (bool, error) {
	obj := map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": typ, "data": data,
		"metadata": map[string]any{"name": name, "namespace": c.Namespace, "labels": labels},
	}
	code, body, err := c.do(ctx, http.MethodPost, c.secretPath(""), "application/json", obj)
	switch {
	case err != nil:
		return false, err
	case code == http.StatusConflict:
		return true, nil
	case code != http.StatusCreated && code != http.StatusOK:
		return false, c.fail("create", name, code, body)
	}
	return false, nil
}

// AddKeys implements API: a JSON merge patch that names only the new keys, so every other key stays as it is.
func (c *Client) AddKeys(ctx context.Context, name string, data map[string][]byte) error {
	code, body, err := c.do(ctx, http.MethodPatch, c.secretPath(name), "application/merge-patch+json", map[string]any{"data": data})
	switch {
	case err != nil:
		return err
	case code != http.StatusOK:
		return c.fail("patch", name, code, body)
	}
	return nil
}
