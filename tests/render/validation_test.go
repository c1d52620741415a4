package render

import (
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bad values fail at `helm install` with a message that names the key to fix. Each case also has a
// passing twin, so a rule that rejects everything fails here too.
func TestBadValuesAreRefusedNamingTheKey(t *testing.T) {
	cases := []struct {
		name string
		bad  []string
		key  string // what the message must name
		good []string
	}{
		{"external without url or secret", []string{"postgresql.enabled=false"}, "externalDatabase",
			external},
		{"url and existingSecret together", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full", "externalDatabase.existingSecret=db"}, "externalDatabase",
			[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"}},
		{"external keys with bundled enabled", []string{"externalDatabase.existingSecret=db"}, "postgresql.enabled",
			nil},
		{"url is not a postgres URI", []string{"postgresql.enabled=false", "externalDatabase.url=mysql://u:p@db/sf"}, "externalDatabase.url",
			[]string{"postgresql.enabled=false", "externalDatabase.url=postgresql://u:p@db/sf?sslmode=verify-full"}},
		{"unencoded @ in password", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@ss@db/sf?sslmode=verify-full"}, "externalDatabase.url",
			[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p%40ss@db/sf?sslmode=verify-full"}},
		{"unencoded / in password", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p/ss@db/sf?sslmode=verify-full"}, "externalDatabase.url",
			[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p%2Fss@db/sf?sslmode=verify-full"}},
		{"unknown sslmode", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify_full"}, "sslmode",
			[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"}},
		{"sslrootcert not mounted", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full&sslrootcert=/etc/ssl/rds/ca.pem"}, "config.extraVolumeMounts",
			[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full&sslrootcert=/etc/ssl/rds/ca.pem", "config.extraVolumes[0].name=ca", "config.extraVolumes[0].configMap.name=ca", "config.extraVolumeMounts[0].name=ca", "config.extraVolumeMounts[0].mountPath=/etc/ssl/rds"}},
		{"sslcert under a different mount", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full&sslcert=/etc/ssl/client/tls.crt", "config.extraVolumes[0].name=ca", "config.extraVolumes[0].configMap.name=ca", "config.extraVolumeMounts[0].name=ca", "config.extraVolumeMounts[0].mountPath=/etc/ssl/rds"}, "sslcert",
			nil},
		{"sslkey prefix is not a directory", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full&sslkey=/etc/ssl/rds-other/tls.key", "config.extraVolumes[0].name=ca", "config.extraVolumes[0].configMap.name=ca", "config.extraVolumeMounts[0].name=ca", "config.extraVolumeMounts[0].mountPath=/etc/ssl/rds"}, "sslkey",
			nil},
		{"PGSSLROOTCERT default not mounted", []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "externalDatabase.sslrootcert=/etc/ssl/x/ca.crt"}, "externalDatabase.sslrootcert",
			nil},
		{"mount of an undeclared volume", append(append([]string{}, external...), "config.extraVolumeMounts[0].name=ca", "config.extraVolumeMounts[0].mountPath=/etc/ssl/rds"), "config.extraVolumes",
			nil},
		{"unknown rate limit backend", append(append([]string{}, external...), "rateLimiting.backend=redis"), "rateLimiting.backend",
			append(append([]string{}, external...), "rateLimiting.backend=postgres")},
		{"unknown session affinity", append(append([]string{}, external...), "web.service.sessionAffinity=Cookie"), "sessionAffinity",
			append(append([]string{}, external...), "web.service.sessionAffinity=ClientIP")},
		{"affinity config without ClientIP", append(append([]string{}, external...), "web.service.sessionAffinityConfig.clientIP.timeoutSeconds=60"), "web.service.sessionAffinity",
			nil},
		{"PostgreSQL 13", []string{"postgresql.image.tag=13.16"}, "postgresql.image.tag",
			[]string{"postgresql.image.tag=14.13"}},
		{"unversioned PostgreSQL tag", []string{"postgresql.image.tag=latest"}, "postgresql.image.tag",
			[]string{"postgresql.image.tag=15.8"}},
		{"misspelt top-level key", []string{"externalDatabse.url=postgres://u:p@db/sf"}, "externalDatabse",
			nil},
		{"misspelt database key", append(append([]string{}, external...), "externalDatabase.existingSecretKy=uri"), "existingSecretKy",
			nil},
		{"string where an integer belongs", append(append([]string{}, external...), "web.replicas=three"), "replicas",
			nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := renderErr(nil, tc.bad...)
			require.Error(t, err, "bad values must be refused")
			assertNamesKey(t, err, tc.key)
			if tc.good != nil {
				assert.NoError(t, renderErr(nil, tc.good...), "the corrected values must render")
			}
		})
	}
}

// The URL carries the password: no validation message may echo it.
func TestValidationMessagesNeverEchoThePassword(t *testing.T) {
	for _, url := range []string{
		"mysql://u:Hunter2Secret@db/sf",
		"postgres://u:Hunter2Secret@ss@db/sf?sslmode=verify-full",
		"postgres://u:Hunter2Secret@db/sf?sslmode=bogus",
		"postgres://u:Hunter2Secret@db/sf?sslmode=verify-full&sslrootcert=/nowhere/ca.pem",
	} {
		err := renderErr(nil, "postgresql.enabled=false", "externalDatabase.url="+url)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "Hunter2Secret")
	}
}

// The template-time rules stand on their own when the schema is not applied (e.g. a parent chart that
// vendors us with its own schema): render through the engine with the schema removed.
func TestTemplateChecksHoldWithoutTheSchema(t *testing.T) {
	for _, bad := range [][]string{
		{"postgresql.enabled=false"},
		append(append([]string{}, external...), "rateLimiting.backend=redis"),
		append(append([]string{}, external...), "web.service.sessionAffinity=Cookie"),
		{"postgresql.image.tag=13"},
	} {
		vals, err := chart.ValuesFrom(chart.Options{Set: bad})
		require.NoError(t, err)
		_, err = chart.RenderWithoutSchema(vals)
		require.Errorf(t, err, "%v", bad)
		assert.Contains(t, err.Error(), "spacefleet:", "a _validate.tpl message, not a schema one")
	}
}

// assertNamesKey accepts the key as _validate.tpl writes it (a.b.c) or as the schema does (/a/b/c).
func assertNamesKey(t *testing.T, err error, key string) {
	t.Helper()
	msg := err.Error()
	pointer := "/" + strings.ReplaceAll(key, ".", "/")
	if !strings.Contains(msg, key) && !strings.Contains(msg, pointer) {
		t.Errorf("the error does not name %s (or %s):\n%s", key, pointer, msg)
	}
}
