package render

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// NOTES warn at install time about what the certctl commit and the database page call out.
func TestNotesWarnings(t *testing.T) {
	cases := []struct {
		name    string
		set     []string
		warn    string // substring of the warning
		present bool
	}{
		{"memory backend with replicas>1", append(external, "web.replicas=3"), "with rateLimiting.backend=memory", true},
		{"postgres backend with replicas>1", append(external, "web.replicas=3", "rateLimiting.backend=postgres", "web.service.sessionAffinity=ClientIP"), "with rateLimiting.backend=memory", false},
		{"memory backend with one replica", append(external, "web.replicas=1"), "with rateLimiting.backend=memory", false},
		{"replicas>1 without ClientIP", append(external, "web.replicas=2", "rateLimiting.backend=postgres"), "without web.service.sessionAffinity=ClientIP", true},
		{"replicas>1 with ClientIP", append(external, "web.replicas=2", "web.service.sessionAffinity=ClientIP"), "without web.service.sessionAffinity=ClientIP", false},
		{"bundled database", nil, "bundled PostgreSQL is in use", true},
		{"external database", external, "bundled PostgreSQL is in use", false},
		{"url without sslmode", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf"}, "has no sslmode", true},
		{"url with require", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=require"}, "sslmode=require, which does not validate", true},
		{"url with disable", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=disable"}, "sslmode=disable, which does not validate", true},
		{"url with prefer", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=prefer"}, "sslmode=prefer, which does not validate", true},
		{"url with allow", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=allow"}, "sslmode=allow, which does not validate", true},
		{"url with verify-full", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"}, "which does not validate", false},
		{"url with verify-ca", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-ca"}, "which does not validate", false},
		{"url without sslmode but a verify-full default", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf", "externalDatabase.sslmode=verify-full"}, "has no sslmode", false},
		{"existingSecret reminder", external, "make sure it carries sslmode=verify-full", true},
		{"no reminder for inline url", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"}, "make sure it carries sslmode", false},
		{"ClientIP behind an ingress", append(external, "web.service.sessionAffinity=ClientIP", "web.ingress.enabled=true"), "cookie-based affinity", true},
		{"ClientIP without ingress", append(external, "web.service.sessionAffinity=ClientIP"), "cookie-based affinity", false},
		{"PostgreSQL 18 is untested", []string{"postgresql.image.tag=18.1"}, "has not been tested", true},
		{"PostgreSQL 17 is supported", []string{"postgresql.image.tag=17.2"}, "has not been tested", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			notes := render(t, nil, tc.set...).Notes
			if tc.present {
				assert.Contains(t, notes, tc.warn)
				assert.Contains(t, notes, "WARNINGS", "warnings must be loud")
			} else {
				assert.NotContains(t, notes, tc.warn)
			}
		})
	}
}

func TestNotesAreQuietForAGoodProductionSetup(t *testing.T) {
	notes := render(t, example("rds-verify-full.yaml")).Notes
	assert.NotContains(t, notes, "WARNING")
}
