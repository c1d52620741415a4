package render

import (
	"strings"
	"testing"

	"github.com/spacefleet/spacefleet/tests/internal/chart"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
)

// The connection by parts (issue 12): externalDatabase.host/port/database/username/password, each literal or a key
// of externalDatabase.existingSecret (existingSecretKeys.*), reach every database client as libpq's PG* variables.

// cnpgParts reads everything but the host from CloudNativePG's <cluster>-app Secret, with its CA mounted.
var cnpgParts = []string{"postgresql.enabled=false",
	"externalDatabase.host=spacefleet-pg-rw", "externalDatabase.existingSecret=spacefleet-pg-app",
	"externalDatabase.existingSecretKeys.database=dbname", "externalDatabase.existingSecretKeys.username=username",
	"externalDatabase.existingSecretKeys.password=password"}

// literalParts gives every part literally (the password then lives in the chart's Secret).
var literalParts = []string{"postgresql.enabled=false", "externalDatabase.host=db.example.com",
	"externalDatabase.database=sf", "externalDatabase.username=app", "externalDatabase.password=p@ss:w/rd#?% +é"}

func secretRef(t *testing.T, env *corev1.EnvVar) (string, string) {
	t.Helper()
	require.NotNil(t, env)
	assert.Empty(t, env.Value, "%s must not be a literal value", env.Name)
	require.NotNil(t, env.ValueFrom, "%s has no valueFrom", env.Name)
	require.NotNil(t, env.ValueFrom.SecretKeyRef, "%s is not a secretKeyRef", env.Name)
	return env.ValueFrom.SecretKeyRef.Name, env.ValueFrom.SecretKeyRef.Key
}

func literal(t *testing.T, c corev1.Container, name string) string {
	t.Helper()
	env := chart.Env(c, name)
	require.NotNilf(t, env, "%s: no %s", c.Name, name)
	require.Nilf(t, env.ValueFrom, "%s: %s should be a literal", c.Name, name)
	return env.Value
}

func TestPartsReachEveryClientAsLibpqVariables(t *testing.T) {
	res := render(t, nil, append(cnpgParts, "externalDatabase.existingSecretKeys.port=port")...)
	for _, c := range dbClients {
		ctr := container(t, res, c)
		assert.Nilf(t, chart.Env(ctr, "DATABASE_URL"), "%s: no DATABASE_URL by parts", c)
		assert.Equal(t, "spacefleet-pg-rw", literal(t, ctr, "PGHOST"), c)
		for v, key := range map[string]string{"PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "username", "PGPASSWORD": "password"} {
			name, k := secretRef(t, chart.Env(ctr, v))
			assert.Equalf(t, "spacefleet-pg-app", name, "%s: %s", c, v)
			assert.Equalf(t, key, k, "%s: %s", c, v)
		}
	}
	assert.Empty(t, res.All("Secret"), "every part from your Secret: the chart creates no database Secret")

	// Crunchy PGO: every part, the host included, from the Secret (no literal at all is still "by parts").
	res = render(t, nil, "postgresql.enabled=false", "externalDatabase.existingSecret=hippo-pguser-spacefleet",
		"externalDatabase.existingSecretKeys.host=host", "externalDatabase.existingSecretKeys.port=port",
		"externalDatabase.existingSecretKeys.database=dbname", "externalDatabase.existingSecretKeys.username=user",
		"externalDatabase.existingSecretKeys.password=password")
	for _, c := range dbClients {
		ctr := container(t, res, c)
		assert.Nilf(t, chart.Env(ctr, "DATABASE_URL"), "%s: no DATABASE_URL by parts", c)
		for v, key := range map[string]string{"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "user", "PGPASSWORD": "password"} {
			name, k := secretRef(t, chart.Env(ctr, v))
			assert.Equalf(t, "hippo-pguser-spacefleet", name, "%s: %s", c, v)
			assert.Equalf(t, key, k, "%s: %s", c, v)
		}
	}

	// Literal parts: plain values, the password in the chart's Secret (a hooked migrate Job reads its copy).
	res = render(t, nil, literalParts...)
	for _, c := range dbClients {
		ctr := container(t, res, c)
		assert.Equal(t, "db.example.com", literal(t, ctr, "PGHOST"))
		assert.Equal(t, "5432", literal(t, ctr, "PGPORT"))
		assert.Equal(t, "sf", literal(t, ctr, "PGDATABASE"))
		assert.Equal(t, "app", literal(t, ctr, "PGUSER"))
		name, key := secretRef(t, chart.Env(ctr, "PGPASSWORD"))
		want := "spacefleet-database"
		if c == "migrate" {
			want = "spacefleet-migrate-database"
		}
		assert.Equal(t, want, name, c)
		assert.Equal(t, "password", key)
	}
	for _, s := range []string{"spacefleet-database", "spacefleet-migrate-database"} {
		assert.Equal(t, "p@ss:w/rd#?% +é", secretData(t, res, s, "password"), "the password lands in %s byte for byte", s)
		o := res.Find("Secret", s)
		_, hasURL := o.Typed.(*corev1.Secret).Data["DATABASE_URL"]
		assert.False(t, hasURL, "%s: by parts the chart builds no URI", s)
	}
	// Not a hook: the Job reads the release's Secret.
	res = render(t, nil, append(literalParts, "migrations.useHelmHooks=false")...)
	name, _ := secretRef(t, chart.Env(container(t, res, "migrate"), "PGPASSWORD"))
	assert.Equal(t, "spacefleet-database", name)
	assert.Nil(t, res.Find("Secret", "spacefleet-migrate-database"))

	// A custom port renders as plain digits.
	res = render(t, nil, append(literalParts, "externalDatabase.port=6543")...)
	assert.Equal(t, "6543", literal(t, container(t, res, "web"), "PGPORT"))
}

// The password never appears outside a Secret: not in an env value, a ConfigMap, NOTES or any other object.
func TestPartsPasswordOnlyInSecrets(t *testing.T) {
	const pw = "p@ss:w/rd#?% +é"
	res := render(t, nil, literalParts...)
	assert.NotContains(t, res.Notes, pw)
	for _, o := range res.Objects {
		if o.Kind == "Secret" {
			continue
		}
		raw := rawString(o)
		assert.NotContainsf(t, raw, "p@ss:w", "%s %s holds the password", o.Kind, o.Name)
	}
}

// Connection type and TLS default: explicit sslmode wins; external → verify-full; in-cluster → verify-full with a
// CA, require (and a warning) without; a host from a Secret → verify-full. NOTES always says type, sslmode and why.
func TestPartsConnectionTypeAndTLSDefault(t *testing.T) {
	ca := []string{"externalDatabase.sslrootcert=/etc/spacefleet/db-ca/ca.crt",
		"config.extraVolumes[0].name=db-ca", "config.extraVolumes[0].secret.secretName=spacefleet-pg-ca",
		"config.extraVolumeMounts[0].name=db-ca", "config.extraVolumeMounts[0].mountPath=/etc/spacefleet/db-ca"}
	withHost := func(h string, extra ...string) []string {
		return append([]string{"postgresql.enabled=false", "externalDatabase.host=" + h, "externalDatabase.database=sf",
			"externalDatabase.username=app", "externalDatabase.existingSecret=db", "externalDatabase.existingSecretKeys.password=password"}, extra...)
	}
	cases := []struct {
		name, typ, sslmode, why string
		set                     []string
		warn                    bool
	}{
		{"FQDN", "external", "verify-full", "external host: certificate chain and host name verified against the image's trust store", withHost("mydb.abc123.eu-west-1.rds.amazonaws.com"), false},
		{"FQDN with a CA", "external", "verify-full", "external host: certificate chain and host name verified against the CA at externalDatabase.sslrootcert=/etc/spacefleet/db-ca/ca.crt", withHost("mydb.example.com", ca...), false},
		{"IPv4", "external", "verify-full", "is an IP address", withHost("10.0.3.7"), false},
		{"IPv6", "external", "verify-full", "is an IP address", withHost("fd00::7"), false},
		{"short Service name with a CA", "in-cluster", "verify-full", "in-cluster host with a CA mounted", withHost("spacefleet-pg-rw", ca...), false},
		{"short Service name without a CA", "in-cluster", "require", "no CA mounted", withHost("spacefleet-pg-rw"), true},
		{"<svc>.<ns>.svc", "in-cluster", "require", "cluster domain", withHost("pg-rw.db.svc"), true},
		{"<svc>.<ns>.svc.cluster.local", "in-cluster", "verify-full", "clusterDomain=cluster.local", withHost("pg-rw.db.svc.cluster.local", ca...), false},
		{"custom clusterDomain", "in-cluster", "require", "clusterDomain=corp.internal", withHost("pg-rw.db.svc.corp.internal", "clusterDomain=corp.internal"), true},
		{"the default domain is not in-cluster under another clusterDomain", "external", "verify-full", "outside the cluster domain", withHost("pg-rw.db.svc.cluster.local", "clusterDomain=corp.internal"), false},
		{"trailing dot", "in-cluster", "verify-full", "cluster domain", withHost("pg-rw.db.svc.cluster.local.", ca...), false},
		{"explicit sslmode wins over the in-cluster default", "in-cluster", "verify-ca", "an explicit sslmode always wins", withHost("spacefleet-pg-rw", "externalDatabase.sslmode=verify-ca"), false},
		{"explicit sslmode wins over the external default", "external", "disable", "an explicit sslmode always wins", withHost("db.example.com", "externalDatabase.sslmode=disable"), false},
		{"host from a Secret", "unknown", "verify-full", "cannot read", append(cnpgParts[:1:1], "externalDatabase.existingSecret=pg-app",
			"externalDatabase.existingSecretKeys.host=host", "externalDatabase.existingSecretKeys.database=dbname",
			"externalDatabase.existingSecretKeys.username=username", "externalDatabase.existingSecretKeys.password=password"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := render(t, nil, tc.set...)
			for _, c := range dbClients {
				assert.Equalf(t, tc.sslmode, literal(t, container(t, res, c), "PGSSLMODE"), "%s: PGSSLMODE", c)
			}
			assert.Contains(t, res.Notes, "connection type: "+tc.typ+" (")
			assert.Contains(t, res.Notes, "sslmode: "+tc.sslmode+" (")
			assert.Contains(t, res.Notes, tc.why)
			assert.Equal(t, tc.warn, strings.Contains(res.Notes, "is in-cluster and no CA is mounted"), "the in-cluster-without-CA warning")
			if tc.warn {
				assert.Contains(t, res.Notes, "externalDatabase.tls.ca.secretName=<cluster>-ca", "the warning names the one setting that mounts the operator's CA")
			}
			for _, l := range lines(res.Notes) {
				if strings.Contains(l, "connection type:") || strings.Contains(l, "sslmode:") {
					t.Log(strings.TrimSpace(l))
				}
			}
		})
	}
}

// NOTES tells every mode its connection type and sslmode, the URI modes included.
func TestNotesNameConnectionTypeInEveryMode(t *testing.T) {
	for name, tc := range map[string]struct {
		set          []string
		typ, sslmode string
	}{
		"bundled":                {nil, "in-cluster", "disable"},
		"bundled with TLS":       {[]string{"postgresql.tls.enabled=true", "postgresql.tls.existingSecret=tls"}, "in-cluster", "verify-full"},
		"url, external":          {[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db.example.com:5432/sf?sslmode=verify-full"}, "external", "verify-full"},
		"url, in-cluster":        {[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@pg-rw/sf"}, "in-cluster", "prefer"},
		"url, IPv6":              {[]string{"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@[fd00::7]:5432/sf?sslmode=require"}, "external", "require"},
		"existingSecret":         {external, "unknown", "as the URI says"},
		"existingSecret+sslmode": {append(external, "externalDatabase.sslmode=verify-full"), "unknown", "verify-full"},
	} {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, tc.set...)
			assert.Contains(t, res.Notes, "connection type: "+tc.typ+" (")
			assert.Contains(t, res.Notes, "sslmode: "+tc.sslmode+" (")
		})
	}
}

// Exactly one way of giving the connection: everything ambiguous is refused, naming the keys.
func TestPartsAmbiguityRefused(t *testing.T) {
	cases := []struct {
		name string
		set  []string
		want []string
	}{
		{"parts and url", append(literalParts, "externalDatabase.url=postgres://u:p@db/sf"),
			[]string{"externalDatabase.url and the connection parts", "externalDatabase.host"}},
		{"parts with the bundled database", []string{"externalDatabase.host=db.example.com"},
			[]string{"postgresql.enabled=true", "externalDatabase.host"}},
		{"URI Secret plus literal parts", []string{"postgresql.enabled=false", "externalDatabase.existingSecret=db", "externalDatabase.host=db.example.com",
			"externalDatabase.database=sf", "externalDatabase.username=app"},
			[]string{"externalDatabase.existingSecret=db holds a connection URI", "externalDatabase.existingSecretKeys"}},
		{"keys without a Secret", []string{"postgresql.enabled=false", "externalDatabase.host=db", "externalDatabase.database=sf",
			"externalDatabase.username=app", "externalDatabase.existingSecretKeys.password=password"},
			[]string{"externalDatabase.existingSecretKeys names keys but externalDatabase.existingSecret is empty"}},
		{"a URI key next to parts keys", append(cnpgParts, "externalDatabase.existingSecretKeys.url=uri"),
			[]string{"externalDatabase.existingSecretKeys.url=uri names a URI key", "existingSecretKeys"}},
		{"password twice", append(cnpgParts, "externalDatabase.password=x"),
			[]string{"externalDatabase.password and externalDatabase.existingSecretKeys.password are both set"}},
		{"host twice", append(cnpgParts, "externalDatabase.existingSecretKeys.host=host"),
			[]string{"externalDatabase.host and externalDatabase.existingSecretKeys.host are both set"}},
		{"username twice", append(literalParts, "externalDatabase.existingSecret=s", "externalDatabase.existingSecretKeys.username=u"),
			[]string{"externalDatabase.username and externalDatabase.existingSecretKeys.username are both set"}},
		{"database twice", append(literalParts, "externalDatabase.existingSecret=s", "externalDatabase.existingSecretKeys.database=d"),
			[]string{"externalDatabase.database and externalDatabase.existingSecretKeys.database are both set"}},
		{"port twice", append(cnpgParts, "externalDatabase.existingSecretKeys.port=port", "externalDatabase.port=6543"),
			[]string{"externalDatabase.port and externalDatabase.existingSecretKeys.port are both set"}},
		{"no host", []string{"postgresql.enabled=false", "externalDatabase.existingSecret=s", "externalDatabase.existingSecretKeys.database=d",
			"externalDatabase.existingSecretKeys.username=u", "externalDatabase.existingSecretKeys.password=p"},
			[]string{"lacks externalDatabase.host (or existingSecretKeys.host)"}},
		{"no database or user", []string{"postgresql.enabled=false", "externalDatabase.host=db"},
			[]string{"externalDatabase.database (or existingSecretKeys.database)", "externalDatabase.username (or existingSecretKeys.username)"}},
		{"a URI in host", []string{"postgresql.enabled=false", "externalDatabase.host=postgres://u:secretpw@db:5432/sf", "externalDatabase.database=sf", "externalDatabase.username=app"},
			[]string{"externalDatabase.host must be only a host name or an IP address"}},
		{"host with a port", []string{"postgresql.enabled=false", "externalDatabase.host=db.example.com:5432", "externalDatabase.database=sf", "externalDatabase.username=app"},
			[]string{"externalDatabase.host must be only a host name", "externalDatabase.port"}},
		{"sslcert without sslkey", append(literalParts, "externalDatabase.sslcert=/etc/c/tls.crt",
			"config.extraVolumes[0].name=c", "config.extraVolumes[0].secret.secretName=c", "config.extraVolumeMounts[0].name=c", "config.extraVolumeMounts[0].mountPath=/etc/c"),
			[]string{"externalDatabase.sslcert and externalDatabase.sslkey go together"}},
		{"sslrootcert not mounted", append(literalParts, "externalDatabase.sslrootcert=/etc/spacefleet/db-ca/ca.crt"),
			[]string{"externalDatabase.sslrootcert=/etc/spacefleet/db-ca/ca.crt is not under any config.extraVolumeMounts"}},
		{"sslkey not mounted", append(literalParts, "externalDatabase.sslcert=/etc/c/tls.crt", "externalDatabase.sslkey=/etc/k/tls.key",
			"config.extraVolumes[0].name=c", "config.extraVolumes[0].secret.secretName=c", "config.extraVolumeMounts[0].name=c", "config.extraVolumeMounts[0].mountPath=/etc/c"),
			[]string{"externalDatabase.sslkey=/etc/k/tls.key is not under any config.extraVolumeMounts"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := renderErr(nil, tc.set...)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "secretpw", "a refused value is never echoed")
			assert.NotContains(t, err.Error(), "p@ss:w", "a refused value is never echoed")
		})
	}
}

// The positive side of every rule above: each valid way renders.
func TestPartsValidCombinations(t *testing.T) {
	cases := map[string][]string{
		"CloudNativePG, host literal":                cnpgParts,
		"CloudNativePG, all from the Secret":         {"postgresql.enabled=false", "externalDatabase.existingSecret=pg-app", "externalDatabase.existingSecretKeys.host=host", "externalDatabase.existingSecretKeys.port=port", "externalDatabase.existingSecretKeys.database=dbname", "externalDatabase.existingSecretKeys.username=username", "externalDatabase.existingSecretKeys.password=password"},
		"Zalando: user and password from the Secret": {"postgresql.enabled=false", "externalDatabase.host=acid-spacefleet", "externalDatabase.database=spacefleet", "externalDatabase.existingSecret=spacefleet.acid-spacefleet.credentials.postgresql.acid.zalan.do", "externalDatabase.existingSecretKeys.username=username", "externalDatabase.existingSecretKeys.password=password"},
		"Crunchy PGO":                                       {"postgresql.enabled=false", "externalDatabase.existingSecret=hippo-pguser-spacefleet", "externalDatabase.existingSecretKeys.host=host", "externalDatabase.existingSecretKeys.port=port", "externalDatabase.existingSecretKeys.database=dbname", "externalDatabase.existingSecretKeys.username=user", "externalDatabase.existingSecretKeys.password=password"},
		"all literal":                                       literalParts,
		"parts keys with the default URI key":               append(cnpgParts, "externalDatabase.existingSecretKeys.url=DATABASE_URL"),
		"parts keys with no URI key":                        append(cnpgParts, "externalDatabase.existingSecretKeys.url="),
		"port from the Secret, literal left at its default": append(cnpgParts, "externalDatabase.existingSecretKeys.port=port", "externalDatabase.port=5432"),
		"no password (client certificate)": {"postgresql.enabled=false", "externalDatabase.host=db.example.com", "externalDatabase.database=sf", "externalDatabase.username=spacefleet",
			"externalDatabase.sslcert=/etc/c/tls.crt", "externalDatabase.sslkey=/etc/c/tls.key",
			"config.extraVolumes[0].name=c", "config.extraVolumes[0].secret.secretName=c", "config.extraVolumeMounts[0].name=c", "config.extraVolumeMounts[0].mountPath=/etc/c"},
		"IPv6 host":            {"postgresql.enabled=false", "externalDatabase.host=fd00::7", "externalDatabase.database=sf", "externalDatabase.username=app", "externalDatabase.password=x"},
		"URI Secret unchanged": external,
	}
	for name, set := range cases {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, renderErr(nil, set...))
		})
	}
	// mTLS by parts: the client certificate paths reach every client.
	res := render(t, nil, cases["no password (client certificate)"]...)
	for _, c := range dbClients {
		ctr := container(t, res, c)
		assert.Equal(t, "/etc/c/tls.crt", literal(t, ctr, "PGSSLCERT"))
		assert.Equal(t, "/etc/c/tls.key", literal(t, ctr, "PGSSLKEY"))
		assert.Nil(t, chart.Env(ctr, "PGPASSWORD"), "no password given, none rendered")
	}
	assert.NotContains(t, res.Notes, "has no password", "a client certificate is a way in: no warning")
	res = render(t, nil, "postgresql.enabled=false", "externalDatabase.host=db.example.com", "externalDatabase.database=sf", "externalDatabase.username=app")
	assert.Contains(t, res.Notes, "has no password", "neither a password nor a client certificate: NOTES warns")
}

// Nothing existing changes: the URI modes render exactly the env they did (no PG* parts, no new defaults).
func TestURIModesUnchangedByParts(t *testing.T) {
	for name, set := range map[string][]string{
		"url":            {"postgresql.enabled=false", "externalDatabase.url=postgres://u:p@db.example.com/sf"},
		"existingSecret": external,
		"bundled":        nil,
	} {
		t.Run(name, func(t *testing.T) {
			res := render(t, nil, set...)
			for _, c := range dbClients {
				ctr := container(t, res, c)
				for _, v := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGSSLMODE", "PGSSLCERT", "PGSSLKEY", "PGSSLROOTCERT"} {
					assert.Nilf(t, chart.Env(ctr, v), "%s: %s appeared in a URI mode", c, v)
				}
				assert.NotNil(t, chart.Env(ctr, "DATABASE_URL"))
			}
		})
	}
}

// Changing a part rolls the pods (the checksum follows every part, the literal password by its hash).
func TestPartsChecksumFollowsEveryPart(t *testing.T) {
	checksum := func(set ...string) string {
		res := render(t, nil, set...)
		return res.Workloads()["web"].Meta["checksum/database"]
	}
	base := checksum(literalParts...)
	require.NotEmpty(t, base)
	for _, change := range []string{"externalDatabase.host=other.example.com", "externalDatabase.port=6543", "externalDatabase.database=other",
		"externalDatabase.username=other", "externalDatabase.password=other", "externalDatabase.sslmode=verify-ca"} {
		assert.NotEqualf(t, base, checksum(append(literalParts, change)...), "%s does not roll the pods", change)
	}
}
