package db

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Diagnosis is a database error with what it means and how to fix it. Its
// message keeps the underlying Go error text (operators grep for
// "x509: certificate signed by unknown authority") with credentials removed.
type Diagnosis struct {
	Err   error  // the original error (unredacted: do not print it, print the Diagnosis)
	Text  string // the redacted original error text
	Cause string
	Fix   string
	Rule  string // the rule that matched ("" when none did)
}

func (d *Diagnosis) Error() string {
	text := d.Text
	if text == "" {
		text = d.Err.Error()
	}
	return fmt.Sprintf("%s (cause: %s; fix: %s)", text, d.Cause, d.Fix)
}

func (d *Diagnosis) Unwrap() error { return d.Err }

// rule maps a recognisable failure to its cause and fix. The first match wins.
type rule struct {
	name  string
	match func(err error, text string) bool
	cause func(err error, text string) string
	fix   string
}

func is(s string) func(error, string) string { return func(error, string) string { return s } }

func sqlstate(code string) func(error, string) bool {
	return func(err error, _ string) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == code
	}
}

// pgx reports unreadable TLS files as "unable to read CA file: open PATH: ...".
var fileErr = regexp.MustCompile(`unable to read (CA file|sslkey|cert): open ([^:]+): `)

var rules = []rule{
	{
		name: "version",
		match: func(err error, _ string) bool {
			var v *VersionError
			return errors.As(err, &v)
		},
		cause: is("the server's PostgreSQL major version is below the supported minimum"),
		fix:   fmt.Sprintf("upgrade the database to PostgreSQL %d or newer", MinMajor),
	},
	{
		name: "tls-file-missing",
		match: func(err error, text string) bool {
			return fileErr.MatchString(text) || (errors.Is(err, fs.ErrNotExist) && strings.Contains(text, "open "))
		},
		cause: func(_ error, text string) string {
			param, path := "sslrootcert/sslcert/sslkey", ""
			if m := fileErr.FindStringSubmatch(text); m != nil {
				param = map[string]string{"CA file": "sslrootcert", "sslkey": "sslkey", "cert": "sslcert"}[m[1]]
				path = m[2]
			}
			return fmt.Sprintf("the %s file %s is not where DATABASE_URL says (not mounted, or mounted elsewhere)", param, path)
		},
		fix: "mount the file so that the volume's mountPath + the ConfigMap/Secret key equal the path in the URL (config.extraVolumes/extraVolumeMounts)",
	},
	{
		name: "unknown-authority",
		match: func(err error, text string) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua) || strings.Contains(text, "certificate signed by unknown authority")
		},
		cause: is("the CA that signed the server certificate is not trusted: wrong or missing sslrootcert, or the bundle does not cover this server"),
		fix:   "set sslrootcert to your provider's CA bundle (mounted into the pod), or omit it only if the server certificate chains to a public root in the system trust store",
	},
	{
		name: "hostname-mismatch",
		match: func(err error, text string) bool {
			var he x509.HostnameError
			return errors.As(err, &he) || strings.Contains(text, "certificate is valid for") ||
				strings.Contains(text, "doesn't contain any IP SANs") || strings.Contains(text, "certificate is not valid for any names")
		},
		cause: func(err error, _ string) string {
			var he x509.HostnameError
			if errors.As(err, &he) && he.Certificate != nil {
				return fmt.Sprintf("hostname mismatch under verify-full: connected to %q but the certificate is issued for %s",
					he.Host, strings.Join(append(he.Certificate.DNSNames, ipStrings(he.Certificate.IPAddresses)...), ", "))
			}
			return "hostname mismatch under verify-full: the host in DATABASE_URL is not a name on the server certificate"
		},
		fix: "connect using the hostname the certificate was issued for, not an IP address or alias",
	},
	{
		name:  "auth-failed",
		match: sqlstate("28P01"),
		cause: is("credentials rejected (SQLSTATE 28P01): wrong user or password in DATABASE_URL"),
		fix:   "correct the user/password in the Secret; if you rotated the bundled PostgreSQL password, see the chart README (the bundled database keeps the password it was initialised with)",
	},
	{
		name:  "hba-rejected",
		match: sqlstate("28000"),
		cause: is("the server's pg_hba.conf rejected this connection (SQLSTATE 28000)"),
		fix:   "if the server requires a client certificate add sslcert and sslkey; if it requires TLS set sslmode=verify-full; otherwise ask the DBA to allow this user/database/address",
	},
	{
		name:  "database-missing",
		match: sqlstate("3D000"),
		cause: is("the database named in DATABASE_URL does not exist"),
		fix:   "create it, or fix the database name in the URL path",
	},
	{
		// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: a restart, failover or
		// recovery. Transient: the pool reconnects once the server accepts connections again.
		name: "server-unavailable",
		match: func(err error, _ string) bool {
			return sqlstate("57P01")(err, "") || sqlstate("57P02")(err, "") || sqlstate("57P03")(err, "")
		},
		cause: is("the database server is starting up, shutting down or restarting (SQLSTATE 57P01/57P02/57P03)"),
		fix:   "nothing to change if it passes: web and worker reconnect on their own; if it persists, check the database server's log (crash recovery, failover, a stuck restart)",
	},
	{
		name: "tls-refused-by-server",
		match: func(_ error, text string) bool {
			return strings.Contains(text, "server refused TLS connection")
		},
		cause: is("the server does not accept TLS connections"),
		fix:   "enable ssl on the server, or (only on a trusted network) use sslmode=disable",
	},
	{
		name: "tls-alert",
		match: func(_ error, text string) bool {
			return strings.Contains(text, "remote error: tls:")
		},
		cause: is("the server aborted the TLS handshake, usually because it did not accept the client certificate (sslcert) or its CA"),
		fix:   "use a client certificate signed by the CA the server trusts (ssl_ca_file), and check sslcert/sslkey point at the right files",
	},
	{
		name: "network",
		match: func(err error, text string) bool {
			var dnsErr *net.DNSError
			var netErr net.Error
			return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
				errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, context.DeadlineExceeded) ||
				errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
				strings.Contains(text, "connection refused") || strings.Contains(text, "i/o timeout") ||
				strings.Contains(text, "timeout")
		},
		cause: is("the database host could not be reached: a network problem (DNS, firewall, security group, wrong host/port, database down), not TLS"),
		fix:   "check host and port in DATABASE_URL and that this pod can reach them (NetworkPolicy, security groups, service name)",
	},
}

// Diagnose wraps a database error with its cause and fix, removing the
// password of databaseURL from the text. Unrecognised errors are still redacted.
func Diagnose(err error, databaseURL string) error {
	if err == nil {
		return nil
	}
	var already *Diagnosis
	if errors.As(err, &already) {
		return err
	}
	text := RedactText(err.Error(), databaseURL)
	if clientCertRejectedLate(err, text, databaseURL) {
		return &Diagnosis{Err: err, Text: text, Rule: "tls-alert",
			Cause: "the server closed the connection right after the TLS handshake while a client certificate (sslcert) was offered: under TLS 1.3 that is how a server refuses a client certificate or its CA (its alert can arrive after the client's first write)",
			Fix:   "use a client certificate signed by the CA the server trusts (ssl_ca_file), check sslcert/sslkey point at the right files, and see the server log for the exact reason"}
	}
	for _, r := range rules {
		if r.match(err, text) {
			return &Diagnosis{Err: err, Text: text, Cause: r.cause(err, text), Fix: r.fix, Rule: r.name}
		}
	}
	return &Diagnosis{Err: err, Text: text, Cause: "unrecognised database error",
		Fix: "run `spacefleet dbcheck` with the same DATABASE_URL and check the server log"}
}

// clientCertRejectedLate: under TLS 1.3 the server verifies the client certificate after the client has finished
// its side of the handshake, so the server's alert races the client's first write (the startup message), which
// then fails with a reset or a broken pipe instead of "remote error: tls: ...". Only meaningful when a client
// certificate was offered (sslcert in the URL, or PGSSLCERT).
func clientCertRejectedLate(err error, text, databaseURL string) bool {
	if !strings.Contains(text, "startup message") && !strings.Contains(text, "failed to receive message") {
		return false
	}
	reset := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) ||
		strings.Contains(text, "connection reset by peer") || strings.Contains(text, "broken pipe") || strings.HasSuffix(text, "EOF")
	return reset && offersClientCert(databaseURL)
}

func offersClientCert(databaseURL string) bool {
	if os.Getenv("PGSSLCERT") != "" {
		return true
	}
	u, err := url.Parse(databaseURL)
	return err == nil && u.Query().Get("sslcert") != ""
}

// Kind names the rule that matched a diagnosis ("" if none); tests use it.
func Kind(err error) string {
	var d *Diagnosis
	if !errors.As(err, &d) {
		return ""
	}
	return d.Rule
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
