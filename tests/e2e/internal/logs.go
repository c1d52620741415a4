//go:build e2e

package harness

import (
	"encoding/json"
	"strings"
)

// LogLine is one JSON log line of the spacefleet binary (slog's JSON handler on stdout).
type LogLine map[string]any

// Msg is the line's message.
func (l LogLine) Msg() string { s, _ := l["msg"].(string); return s }

// Int reads a numeric field (JSON numbers decode as float64).
func (l LogLine) Int(k string) int { f, _ := l[k].(float64); return int(f) }

// ParseLogs returns the JSON lines of a log (other lines are skipped).
func ParseLogs(s string) []LogLine {
	var out []LogLine
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m LogLine
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// DBCheck is the JSON object `spacefleet dbcheck` prints (the `helm test` pod).
type DBCheck struct {
	TLS             bool   `json:"tls"`
	TLSVersion      string `json:"tls_version"`
	Cipher          string `json:"cipher"`
	ClientDN        string `json:"client_dn"`
	ServerVersion   string `json:"server_version"`
	ApplicationName string `json:"application_name"`
	// Where it connected, as the client resolved DATABASE_URL and the PG* parts.
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Database string `json:"database"`
	User     string `json:"user"`
	SSLMode  string `json:"sslmode"`
}

// ParseDBCheck finds dbcheck's report in `helm test --logs` output (the line with a "client_dn" key).
func ParseDBCheck(out string) (DBCheck, bool) {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "{") || !strings.Contains(l, `"client_dn"`) {
			continue
		}
		var d DBCheck
		if json.Unmarshal([]byte(l), &d) == nil {
			return d, true
		}
	}
	return DBCheck{}, false
}
