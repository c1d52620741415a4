//go:build e2e

package harness

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
)

// Every password the suites generate is registered here, and everything the suites print goes through Redact:
// a password never reaches the test log, even inside helm's or a pod's output.
var (
	secretsMu sync.Mutex
	secrets   []string
	// postgres://user:password@host → postgres://user:***@host
	urlPassword = regexp.MustCompile(`(postgres(?:ql)?://[^:/@\s"']*):[^@\s"']*@`)
	// password=... in key/value connection strings and env dumps
	kvPassword = regexp.MustCompile(`(?i)((?:password|PGPASSWORD)\s*[=:]\s*)("[^"]*"|'[^']*'|\S+)`)
)

// RegisterSecret makes Redact hide s from now on.
func RegisterSecret(s string) {
	if len(s) < 4 {
		return
	}
	secretsMu.Lock()
	defer secretsMu.Unlock()
	secrets = append(secrets, s)
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
}

// Redact removes registered secrets and anything shaped like a password from s.
func Redact(s string) string {
	secretsMu.Lock()
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	secretsMu.Unlock()
	s = urlPassword.ReplaceAllString(s, "$1:***@")
	return kvPassword.ReplaceAllString(s, "$1***")
}

// Logf logs through Redact.
func Logf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Log(Redact(sprintf(format, args...)))
}
