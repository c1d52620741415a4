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

// rule maps a recognisable failure to its cause and fix. The first match wins. fixFor, when set, names the
// setting to change for the connection at hand (a part of DATABASE_URL, or a PG* variable and its chart values).
type rule struct {
	name   string
	match  func(err error, text string) bool
	cause  func(err error, text string) string
	fix    string
	fixFor func(databaseURL string) string
}

func is(s string) func(error, string) string { return func(error, string) string { return s } }

func sqlstate(code string) func(error, string) bool {
	return func(err error, _ string) bool {
		var pgErr *pgconn.PgError
		return errors.As(err, &pgErr) && pgErr.Code == code
	}
}

// noEncryptionRejected: pg_hba.conf turned away a connection made without TLS. PostgreSQL 14+ ends the message
// with "no encryption" ("no pg_hba.conf entry for ..." or a hostnossl reject line); older servers said "SSL off".
func noEncryptionRejected(err error, _ string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "28000" &&
		(strings.HasSuffix(pgErr.Message, "no encryption") || strings.HasSuffix(pgErr.Message, "SSL off"))
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
			return fmt.Sprintf("the %s file %s is not where the connection settings say (DATABASE_URL, or PGSSLROOTCERT/PGSSLCERT/PGSSLKEY): not mounted, or mounted elsewhere", param, path)
		},
		fix: "mount the file so that the volume's mountPath + the ConfigMap/Secret key equal the path in the URL or in externalDatabase.sslrootcert/sslcert/sslkey (config.extraVolumes/extraVolumeMounts)",
	},
	{
		name: "unknown-authority",
		match: func(err error, text string) bool {
			var ua x509.UnknownAuthorityError
			return errors.As(err, &ua) || strings.Contains(text, "certificate signed by unknown authority")
		},
		cause: is("the CA that signed the server certificate is not trusted: wrong or missing sslrootcert, or the bundle does not cover this server"),
		fixFor: func(u string) string {
			return fmt.Sprintf("set sslrootcert to your provider's CA bundle (mounted into the pod), or omit it only if the server certificate chains to a public root in the system trust store: %s", Where(u, SSLRootCert))
		},
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
			return "hostname mismatch under verify-full: the host connected to is not a name on the server certificate"
		},
		fixFor: func(u string) string {
			return fmt.Sprintf("connect using the hostname the certificate was issued for, not an IP address or alias: %s", Where(u, Host))
		},
	},
	{
		name:  "auth-failed",
		match: sqlstate("28P01"),
		cause: is("credentials rejected (SQLSTATE 28P01): wrong user or password"),
		fixFor: func(u string) string {
			fix := fmt.Sprintf("correct the user, %s, and the password, %s", Where(u, User), Where(u, Password))
			if Origin(u, Password) == "env" {
				fix += "; PGPASSWORD is used exactly as the Secret holds it: do not URL-encode it"
			}
			return fix + "; if you rotated the bundled PostgreSQL password, see the chart README (the bundled database keeps the password it was initialised with)"
		},
	},
	{
		name:  "tls-required-by-server",
		match: noEncryptionRejected,
		cause: is(`the server accepts only TLS connections ("SSL required": pg_hba.conf has no entry for a connection without encryption) but this client connected without TLS (sslmode=disable)`),
		fixFor: func(u string) string {
			return fmt.Sprintf("turn TLS on with sslmode=verify-full in %s (plus sslrootcert when the server's CA is private); for the bundled database set postgresql.tls.enabled=true", Where(u, SSLMode))
		},
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
		cause: is("the database does not exist on this server (SQLSTATE 3D000)"),
		fixFor: func(u string) string {
			return fmt.Sprintf("create it (CREATE DATABASE <name> OWNER <user>, or your operator's database resource), or correct the name, %s", Where(u, Database))
		},
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
		name: "invalid-setting",
		match: func(err error, text string) bool {
			var pce *pgconn.ParseConfigError
			return errors.As(err, &pce) && (strings.Contains(text, "invalid port") || strings.Contains(text, "sslmode is invalid"))
		},
		cause: func(_ error, text string) string {
			if strings.Contains(text, "invalid port") {
				return "the port is not a number from 1 to 65535"
			}
			return "the sslmode is not one of disable, allow, prefer, require, verify-ca, verify-full"
		},
		fixFor: func(u string) string {
			return fmt.Sprintf("correct the port, %s, or the sslmode, %s", Where(u, Port), Where(u, SSLMode))
		},
	},
	{
		name: "dns",
		match: func(err error, text string) bool {
			var dnsErr *net.DNSError
			return (errors.As(err, &dnsErr) && dnsErr.IsNotFound) || strings.Contains(text, "no such host")
		},
		cause: is("the database host name does not resolve (no such host): a typo, a Service in another namespace given by its short name, or a private DNS zone this cluster cannot see; not TLS, not credentials"),
		fixFor: func(u string) string {
			return fmt.Sprintf("correct the host, %s; a Service in another namespace needs <service>.<namespace>.svc", Where(u, Host))
		},
	},
	{
		name: "connection-refused",
		match: func(err error, text string) bool {
			return errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(text, "connection refused")
		},
		cause: is("nothing accepts connections at that host and port: the database is down or not ready yet, the port is wrong, or its Service has no ready endpoints; a network problem, not TLS, not credentials"),
		fixFor: func(u string) string {
			return fmt.Sprintf("check that the database is running and correct the host, %s, or the port, %s", Where(u, Host), Where(u, Port))
		},
	},
	{
		name: "network",
		match: func(err error, text string) bool {
			var dnsErr *net.DNSError
			var netErr net.Error
			return errors.Is(err, syscall.EHOSTUNREACH) ||
				errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, context.DeadlineExceeded) ||
				errors.As(err, &dnsErr) || (errors.As(err, &netErr) && netErr.Timeout()) ||
				strings.Contains(text, "i/o timeout") || strings.Contains(text, "timeout")
		},
		cause: is("the database host could not be reached: a network problem (DNS, firewall, security group, wrong host/port, database down), not TLS"),
		fixFor: func(u string) string {
			return fmt.Sprintf("check the host, %s, and the port, %s, and that this pod can reach them (NetworkPolicy, security groups, service name)", Where(u, Host), Where(u, Port))
		},
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
	if misencoded(databaseURL) && parseFailed(err, databaseURL) {
		// Its parse errors echo pieces of the password (pgx's own redaction cuts at the wrong '@'): say nothing of it.
		return &Diagnosis{Err: err, Rule: "url-not-encoded",
			Text:  "cannot parse DATABASE_URL as a URI (its text is withheld: it holds the password)",
			Cause: "the user name or password in DATABASE_URL holds a character a URI reserves (@ : / # ? % space, or a non-ASCII letter) without percent-encoding it",
			Fix: "percent-encode the user name and password in the URI (@ → %40, : → %3A, / → %2F, # → %23, ? → %3F, % → %25, space → %20), " +
				"or give the connection by parts (externalDatabase.host, database, username, and the password from a Secret key via externalDatabase.existingSecretKeys.password), which needs no encoding"}
	}
	text := RedactText(err.Error(), databaseURL)
	if clientCertRejectedLate(err, text, databaseURL) {
		return &Diagnosis{Err: err, Text: text, Rule: "tls-alert",
			Cause: "the server closed the connection right after the TLS handshake while a client certificate (sslcert) was offered: under TLS 1.3 that is how a server refuses a client certificate or its CA (its alert can arrive after the client's first write)",
			Fix:   "use a client certificate signed by the CA the server trusts (ssl_ca_file), check sslcert/sslkey point at the right files, and see the server log for the exact reason"}
	}
	for _, r := range rules {
		if r.match(err, text) {
			fix := r.fix
			if r.fixFor != nil {
				fix = r.fixFor(databaseURL)
			}
			return &Diagnosis{Err: err, Text: text, Cause: r.cause(err, text), Fix: fix, Rule: r.name}
		}
	}
	return &Diagnosis{Err: err, Text: text, Cause: "unrecognised database error",
		Fix: "run `spacefleet dbcheck` with the same environment (`helm test`) and check the server log"}
}

// validUserinfo: user[:password] made only of unreserved/sub-delim characters and %XX escapes (RFC 3986).
var validUserinfo = regexp.MustCompile(`^([A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*(:([A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)?$`)

// rawUserinfo is what stands between "://" and the last "@" of a URI ("" when it has none): with an unencoded
// password no parser can tell where the password ends, so this is the widest guess.
func rawUserinfo(databaseURL string) string {
	_, rest, ok := strings.Cut(strings.TrimSpace(databaseURL), "://")
	if !ok {
		return ""
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return ""
	}
	return rest[:at]
}

func misencoded(databaseURL string) bool {
	ui := rawUserinfo(databaseURL)
	return ui != "" && !validUserinfo.MatchString(ui)
}

// parseFailed: the URI did not parse (pgx's ParseConfigError about the URI, or net/url refuses it).
func parseFailed(err error, databaseURL string) bool {
	if _, perr := url.Parse(strings.TrimSpace(databaseURL)); perr != nil {
		return true
	}
	var pce *pgconn.ParseConfigError
	return errors.As(err, &pce) && strings.Contains(pce.Error(), "failed to parse as URL")
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
