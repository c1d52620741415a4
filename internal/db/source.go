package db

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// A connection is given as DATABASE_URL, by parts in the libpq environment (PGHOST, PGPORT, PGDATABASE, PGUSER,
// PGPASSWORD, PGSSLMODE, ...), or both: pgx reads the environment for every parameter the URL leaves out, so a
// URL parameter always wins. Parts are raw values, never URL-encoded, so a password may hold any character.
// This file answers "where does parameter X come from", which the diagnoses use to name the setting to change.

// Param is a libpq connection parameter.
type Param string

// The parameters a diagnosis can point at.
const (
	Host        Param = "host"
	Port        Param = "port"
	Database    Param = "dbname"
	User        Param = "user"
	Password    Param = "password"
	SSLMode     Param = "sslmode"
	SSLRootCert Param = "sslrootcert"
	SSLCert     Param = "sslcert"
	SSLKey      Param = "sslkey"
)

// EnvVar is the libpq environment variable of each parameter.
var EnvVar = map[Param]string{
	Host: "PGHOST", Port: "PGPORT", Database: "PGDATABASE", User: "PGUSER", Password: "PGPASSWORD",
	SSLMode: "PGSSLMODE", SSLRootCert: "PGSSLROOTCERT", SSLCert: "PGSSLCERT", SSLKey: "PGSSLKEY",
}

// chartKeys: the chart values that set each environment variable (see charts/spacefleet/README.md).
var chartKeys = map[Param]string{
	Host:        "externalDatabase.host or externalDatabase.existingSecretKeys.host",
	Port:        "externalDatabase.port or externalDatabase.existingSecretKeys.port",
	Database:    "externalDatabase.database or externalDatabase.existingSecretKeys.database",
	User:        "externalDatabase.username or externalDatabase.existingSecretKeys.username",
	Password:    "externalDatabase.password or externalDatabase.existingSecretKeys.password",
	SSLMode:     "externalDatabase.sslmode",
	SSLRootCert: "externalDatabase.sslrootcert",
	SSLCert:     "externalDatabase.sslcert",
	SSLKey:      "externalDatabase.sslkey",
}

// urlWords: how the URI form names each parameter in an operator's terms.
var urlWords = map[Param]string{
	Host: "host", Port: "port", Database: "database name (the path)", User: "user name", Password: "password",
	SSLMode: "sslmode parameter", SSLRootCert: "sslrootcert parameter", SSLCert: "sslcert parameter", SSLKey: "sslkey parameter",
}

// defaults: what libpq/pgx use when neither the URL nor the environment sets a parameter.
var defaults = map[Param]string{
	Port: "5432", Database: "the user name", SSLMode: "prefer: TLS is tried, never verified, and plain TCP is the fallback",
}

// Origin says where p comes from: "url", "env" or "" (neither: the libpq default).
func Origin(databaseURL string, p Param) string {
	if urlSets(databaseURL, p) {
		return "url"
	}
	if os.Getenv(EnvVar[p]) != "" {
		return "env"
	}
	return ""
}

// Where names the setting that holds p, in the operator's terms: the part of DATABASE_URL, or the environment
// variable and the chart values behind it.
func Where(databaseURL string, p Param) string {
	switch Origin(databaseURL, p) {
	case "url":
		return fmt.Sprintf("the %s in DATABASE_URL (chart: externalDatabase.url, or the URI in the externalDatabase.existingSecret Secret)", urlWords[p])
	case "env":
		return fmt.Sprintf("%s (chart: %s)", EnvVar[p], chartKeys[p])
	}
	unset := fmt.Sprintf("%s (unset", EnvVar[p])
	if d := defaults[p]; d != "" {
		unset += ", so " + d
	}
	return unset + fmt.Sprintf("; chart: %s)", chartKeys[p])
}

// Setting is the value of p that will be used: the URL's, else the environment's ("" when neither sets it).
func Setting(databaseURL string, p Param) string {
	if v, ok := urlValue(databaseURL, p); ok && v != "" {
		return v
	}
	return os.Getenv(EnvVar[p])
}

// Configured reports whether there is anything to connect to: a URL, or a host by parts.
func Configured(databaseURL string) bool {
	return strings.TrimSpace(databaseURL) != "" || os.Getenv("PGHOST") != ""
}

func urlSets(databaseURL string, p Param) bool {
	v, ok := urlValue(databaseURL, p)
	return ok && v != ""
}

// urlValue reads p from a libpq URI or keyword/value string (ok=false when it is not there).
func urlValue(databaseURL string, p Param) (string, bool) {
	s := strings.TrimSpace(databaseURL)
	if s == "" {
		return "", false
	}
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", false
		}
		q := u.Query()
		if q.Has(string(p)) {
			return q.Get(string(p)), true
		}
		if p == Database && q.Has("database") {
			return q.Get("database"), true
		}
		switch p {
		case Host:
			return u.Hostname(), u.Hostname() != ""
		case Port:
			return u.Port(), u.Port() != ""
		case Database:
			db := strings.TrimPrefix(u.Path, "/")
			return db, db != ""
		case User:
			if u.User != nil {
				return u.User.Username(), u.User.Username() != ""
			}
		case Password:
			if u.User != nil {
				return u.User.Password()
			}
		}
		return "", false
	}
	for k, v := range keywordValues(s) {
		if k == string(p) || (p == Database && k == "database") {
			return v, true
		}
	}
	return "", false
}

// keywordValues parses the keyword/value form (host=db user=app password='a b'), quotes and backslashes included.
func keywordValues(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t\n")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t\n")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			s = s[1:]
			for len(s) > 0 && s[0] != '\'' {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				val.WriteByte(s[0])
				s = s[1:]
			}
			if len(s) > 0 {
				s = s[1:]
			}
		} else {
			for len(s) > 0 && s[0] != ' ' && s[0] != '\t' && s[0] != '\n' {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				val.WriteByte(s[0])
				s = s[1:]
			}
		}
		out[key] = val.String()
	}
	return out
}
