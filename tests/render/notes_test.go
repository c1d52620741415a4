package render

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		{"postgres backend with replicas>1", append(external, "web.replicas=3", "rateLimiting.backend=postgres"), "with rateLimiting.backend=memory", false},
		{"memory backend with one replica", append(external, "web.replicas=1"), "with rateLimiting.backend=memory", false},
		{"more than one web pod asks for no affinity", append(external, "web.replicas=2", "rateLimiting.backend=postgres"), "sessionAffinity", false},
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
		{"existingSecret without an sslmode default", external, "Set externalDatabase.sslmode=verify-full", true},
		{"existingSecret with sslmode=verify-full", append(external, "externalDatabase.sslmode=verify-full"), "existing-secret-sslmode", false},
		{"existingSecret with sslmode=require", append(external, "externalDatabase.sslmode=require"), `externalDatabase.sslmode is "require"`, true},
		{"no reminder for inline url", []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db/sf?sslmode=verify-full"}, "existing-secret-sslmode", false},
		{"ClientIP behind an ingress", append(external, "web.service.sessionAffinity=ClientIP", "web.ingress.enabled=true"), "pins all the traffic of each proxy pod", true},
		{"ClientIP behind a route", append(external, "web.service.sessionAffinity=ClientIP", "web.route.enabled=true", "web.route.parentRefs[0].name=gw"), "pins all the traffic of each proxy pod", true},
		{"ClientIP without ingress", append(external, "web.service.sessionAffinity=ClientIP"), "pins all the traffic", false},
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

var (
	warningIDInSource = regexp.MustCompile(`"warning" "([a-z0-9-]+)"`)
	warningInNotes    = regexp.MustCompile(`(?m)^WARNING \(([a-z0-9-]+)\): (.*)$`)
)

// warningIDs are every warning id the chart's templates can print (`(dict "warning" "<id>" "text" ...)`).
func warningIDs(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.Walk(filepath.Join(chart.Dir(), "templates"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range warningIDInSource.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
		return err
	})
	require.NoError(t, err)
	var ids []string
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// warnings parses the WARNING lines of NOTES: id -> text.
func warnings(notes string) map[string]string {
	out := map[string]string{}
	for _, m := range warningInNotes.FindAllStringSubmatch(notes, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// Every warning NOTES can print names the values change that clears it, and that change clears it: for each
// warning id, values that raise it, then the fix on top, after which the warning is gone. The first key of the fix
// must be named in the warning's text. A warning added to the templates without a case here fails.
func TestNotesWarningsCanBeCleared(t *testing.T) {
	extVerified := append(append([]string{}, external...), "externalDatabase.sslmode=verify-full")
	parts := []string{"postgresql.enabled=false", "externalDatabase.host=spacefleet-pg-rw", "externalDatabase.database=app",
		"externalDatabase.username=app", "externalDatabase.existingSecret=pg-app"}
	cases := []struct {
		id           string
		files        []string
		trigger, fix []string // fix: --set on top of trigger, less the trigger entries that start with a drop prefix
		drop         []string
	}{
		{"deprecated-key", nil, append(append([]string{}, extVerified...), "externalDatabase.existingSecretKey=uri"),
			[]string{"externalDatabase.existingSecretKeys.url=uri"}, []string{"externalDatabase.existingSecretKey="}},
		{"bundled-database", nil, nil, []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "externalDatabase.sslmode=verify-full"}, nil},
		{"postgresql-untested", nil, []string{"postgresql.image.tag=18.1"}, []string{"postgresql.image.tag=17.2"}, nil},
		{"postgresql-throwaway", nil, []string{"postgresql.persistence.enabled=false"}, []string{"postgresql.persistence.enabled=true"}, nil},
		{"url-no-sslmode", nil, []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db.example.com/sf"}, []string{"externalDatabase.sslmode=verify-full"}, nil},
		{"url-weak-sslmode", nil, []string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db.example.com/sf?sslmode=require"},
			[]string{"externalDatabase.url=postgres://u:p@db.example.com/sf?sslmode=verify-full"}, nil},
		{"parts-in-cluster-no-ca", nil, append(append([]string{}, parts...), "externalDatabase.existingSecretKeys.password=password"),
			[]string{"externalDatabase.tls.ca.secretName=spacefleet-pg-ca"}, nil},
		{"parts-weak-sslmode", nil, append(append([]string{}, parts...), "externalDatabase.existingSecretKeys.password=password", "externalDatabase.sslmode=require"),
			[]string{"externalDatabase.sslmode=verify-full"}, nil},
		{"parts-no-credentials", nil, append(append([]string{}, parts[:4]...), "externalDatabase.sslmode=verify-full"),
			[]string{"externalDatabase.existingSecretKeys.password=password", "externalDatabase.existingSecret=pg-app"}, nil},
		{"existing-secret-sslmode", nil, external, []string{"externalDatabase.sslmode=verify-full"}, nil},
		{"rate-limit-memory", nil, append(append([]string{}, extVerified...), "web.replicas=3"), []string{"rateLimiting.backend=postgres"}, nil},
		{"session-affinity-proxy", nil, append(append([]string{}, extVerified...), "web.service.sessionAffinity=ClientIP", "web.ingress.enabled=true"),
			[]string{"web.service.sessionAffinity="}, nil},
		{"web-grace-period", nil, append(append([]string{}, extVerified...), "web.shutdownDelaySeconds=30"), []string{"web.terminationGracePeriodSeconds=60"}, nil},
		{"worker-grace-period", nil, append(append([]string{}, extVerified...), "worker.shutdownTimeoutSeconds=40"), []string{"worker.terminationGracePeriodSeconds=60"}, nil},
		{"web-tls-self-signed", nil, append(append([]string{}, extVerified...), "web.tls.enabled=true", "web.tls.selfSigned=true"),
			[]string{"web.tls.existingSecret=spacefleet-web-tls", "web.tls.selfSigned=false"}, nil},
		{"web-tls-route", nil, append(append([]string{}, extVerified...), "web.tls.enabled=true", "web.tls.existingSecret=web-tls", "web.route.enabled=true", "web.route.parentRefs[0].name=gw"),
			[]string{"web.route.backendTLS.enabled=true", "web.route.backendTLS.caCertificateConfigMaps[0]=web-ca"}, nil},
	}
	ids := warningIDs(t)
	require.GreaterOrEqual(t, len(ids), 10, "the templates' warning ids (%v)", ids)
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.id] = true
		t.Run(tc.id, func(t *testing.T) {
			require.Contains(t, ids, tc.id, "no template prints warning %s", tc.id)
			before := warnings(render(t, tc.files, tc.trigger...).Notes)
			text, ok := before[tc.id]
			require.Truef(t, ok, "the trigger values do not raise %s (got %v)", tc.id, before)
			key := strings.SplitN(tc.fix[0], "=", 2)[0]
			assert.Containsf(t, text, key, "warning %s must name the change that clears it (%s)", tc.id, key)
			var fixed []string
			for _, s := range tc.trigger {
				keep := true
				for _, d := range tc.drop {
					keep = keep && !strings.HasPrefix(s, d)
				}
				if keep {
					fixed = append(fixed, s)
				}
			}
			after := warnings(render(t, tc.files, append(fixed, tc.fix...)...).Notes)
			assert.NotContainsf(t, after, tc.id, "%s is still printed after %v", tc.id, tc.fix)
		})
	}
	for _, id := range ids {
		assert.Truef(t, covered[id], "warning %s has no clearing case in TestNotesWarningsCanBeCleared", id)
	}
}

// Informational lines (what to run after changing a Secret) are not warnings: they live under "Operating notes".
func TestNotesSeparateOperatingNotesFromWarnings(t *testing.T) {
	notes := render(t, example("external-secret.yaml")).Notes
	assert.Contains(t, notes, "Operating notes (not warnings: what to do later):\n  - The connection URI comes from Secret spacefleet-db (key DATABASE_URL): after you change it, restart web and worker")
	assert.Contains(t, notes, "rollout restart deployment/spacefleet-web deployment/spacefleet-worker")
	assert.NotContains(t, notes, "WARNING")
	notes = render(t, example("cloudnativepg-parts.yaml")).Notes
	assert.Contains(t, notes, "Operating notes (not warnings: what to do later):\n  - The connection parts come from Secret spacefleet-pg-app")
	assert.NotContains(t, render(t, nil).Notes, "Operating notes", "nothing to say: no section")
}

// Every warning id is explained in the chart README's "NOTES warnings" table.
func TestEveryNotesWarningIsInTheReadme(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(chart.Dir(), "README.md.gotmpl"))
	require.NoError(t, err)
	for _, id := range warningIDs(t) {
		assert.Containsf(t, string(readme), "| `"+id+"` |", "README.md.gotmpl's NOTES warnings table has no row for %s", id)
	}
}

// The recommended setups print no warning at all: production.yaml, prod-ha.yaml, external-secret.yaml, the RDS
// examples and the staging and production stacks of examples/values/layered/.
func TestNotesAreQuietForTheRecommendedSetups(t *testing.T) {
	layered := filepath.Join(chart.Root(), "examples", "values", "layered")
	for name, files := range map[string][]string{
		"production.yaml":      example("production.yaml"),
		"prod-ha.yaml":         example("prod-ha.yaml"),
		"external-secret.yaml": example("external-secret.yaml"),
		"rds-verify-full.yaml": example("rds-verify-full.yaml"),
		"rds-parts.yaml":       example("rds-parts.yaml"),
		"layered staging":      {filepath.Join(layered, "base.yaml"), filepath.Join(layered, "staging.yaml")},
		"layered production":   {filepath.Join(layered, "base.yaml"), filepath.Join(layered, "production.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			notes := render(t, files).Notes
			assert.NotContains(t, notes, "WARNING", "a recommended setup must not teach operators to ignore warnings")
		})
	}
}
