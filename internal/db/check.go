package db

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
)

// Report is what the server sees of our own connection (pg_stat_ssl for this backend).
type Report struct {
	TLS             bool   `json:"tls"`
	TLSVersion      string `json:"tls_version"`
	Cipher          string `json:"cipher"`
	ClientDN        string `json:"client_dn"`
	ServerVersion   string `json:"server_version"`
	ApplicationName string `json:"application_name"`
	// Where the connection went and how, as the client resolved DATABASE_URL and the PG* parts (never the password).
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"`
	User     string `json:"user"`
	SSLMode  string `json:"sslmode"`
}

// Check connects exactly like the other subcommands and reports the connection.
func Check(ctx context.Context, databaseURL string, log *slog.Logger) (Report, error) {
	var r Report
	pool, err := Connect(ctx, databaseURL, "dbcheck", log)
	if err != nil {
		return r, err
	}
	defer pool.Close()
	cc := pool.Config().ConnConfig
	r.Host, r.Port, r.Database, r.User = cc.Host, int(cc.Port), cc.Database, cc.User
	r.SSLMode = EffectiveSSLMode(databaseURL)
	err = pool.QueryRow(ctx, `SELECT s.ssl, coalesce(s.version, ''), coalesce(s.cipher, ''), coalesce(s.client_dn, ''),
			current_setting('server_version'), current_setting('application_name')
		FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`).
		Scan(&r.TLS, &r.TLSVersion, &r.Cipher, &r.ClientDN, &r.ServerVersion, &r.ApplicationName)
	if err != nil {
		return r, Diagnose(err, databaseURL)
	}
	return r, nil
}

// EffectiveSSLMode is the sslmode the client uses: the URL's, else PGSSLMODE, else libpq's default "prefer"
// (sslrootcert=system forces verify-full, as in libpq and pgx).
func EffectiveSSLMode(databaseURL string) string {
	if Setting(databaseURL, SSLRootCert) == "system" {
		return "verify-full"
	}
	if m := Setting(databaseURL, SSLMode); m != "" {
		return m
	}
	return "prefer"
}

// RunCheck is the dbcheck subcommand: one JSON object on out, error on failure.
func RunCheck(ctx context.Context, databaseURL string, out io.Writer, log *slog.Logger) error {
	r, err := Check(ctx, databaseURL, log)
	if err != nil {
		return err
	}
	log.Info("database connection ok", "url", Redact(databaseURL), "host", r.Host, "port", r.Port, "database", r.Database,
		"user", r.User, "sslmode", r.SSLMode, "tls", r.TLS, "server_version", r.ServerVersion)
	return json.NewEncoder(out).Encode(r)
}
