//go:build e2e

package e2e

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	h "github.com/spacefleet/spacefleet/tests/e2e/internal"
)

// TestFailureTable: the chart README's "When the migrate Job fails" table, row by row, read from
// `kubectl logs job/<release>-migrate`. The URL lives in an existing Secret so the chart's template-time
// checks (which catch an unmounted sslrootcert in an inline URL) do not stop the install first. Each failing
// install must fail (the pre-install hook), leave the error in the Job's log and leave no app behind: no web
// Deployment, or one without Ready pods. migrations.backoffLimit=0 keeps each row to one migrate pod.
func TestFailureTable(t *testing.T) {
	h.Parallel(t)
	env := h.Load(t)
	h.Timer(t)
	pg := h.StartPostgres(t, env, h.PostgresOptions{})

	rows := []struct {
		name, want string
		ca         *h.CA
		url        string
	}{
		{"wrong-ca", "x509: certificate signed by unknown authority", pg.WrongCA,
			pg.URL(pg.Host, pg.Port, tlsQuery, false)},
		{"host-not-on-certificate", "certificate is valid for", pg.CA,
			pg.URL(pg.AliasHost, pg.Port, tlsQuery, false)},
		{"sslrootcert-not-mounted", "no such file or directory", pg.CA,
			pg.URL(pg.Host, pg.Port, "sslmode=verify-full&sslrootcert=/etc/ssl/not-mounted/global-bundle.pem", false)},
		{"nothing-listens", "connection refused", pg.CA,
			pg.URL(pg.Host, pg.ClosedPort, tlsQuery, false)},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			h.Timer(t)
			ns := h.NewNamespace(t, env, "e2e-fail")
			rel := h.NewRelease(ns, release)
			h.CAConfigMap(t, ns, "rds-ca-bundle", row.ca)
			values := h.Merge(externalValues(t, ns, "existingSecret", row.url, "rds-ca-bundle"),
				map[string]any{"migrations": map[string]any{"backoffLimit": 0}})

			res := rel.Install(t, nil, values)
			require.Error(t, res.Err, "helm install must fail")
			assert.Contains(t, res.Output, "pre-install", "helm names the failed pre-install hook")
			assert.NotContains(t, res.Output, pg.Password)

			logs, err := ns.KubectlLogs(t, "job/"+rel.Migrate())
			require.NoError(t, err, "kubectl logs job/%s: %s", rel.Migrate(), h.Redact(logs))
			h.Logf(t, "kubectl logs job/%s:\n%s", rel.Migrate(), logs)
			assert.Contains(t, logs, row.want, "the migrate Job's log names the cause")
			assert.NotContains(t, logs, pg.Password, "the migrate log leaks the password")
			var found bool
			for _, l := range h.ParseLogs(logs) {
				if l["level"] == "ERROR" && l["cause"] != nil && l["fix"] != nil {
					found = true
					t.Logf("cause: %v | fix: %v", l["cause"], l["fix"])
				}
			}
			assert.True(t, found, "the failure line carries error, cause and fix (docs/app-contract.md)")

			// No half-rolled app.
			dep, err := ns.Client.AppsV1().Deployments(ns.Name).Get(context.Background(), rel.Web(), metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				t.Logf("web Deployment %s does not exist: the pre-install hook failed before any app resource", rel.Web())
			case err != nil:
				t.Fatal(err)
			default:
				assert.Zero(t, dep.Status.ReadyReplicas, "web Deployment exists with Ready pods after a failed install")
			}
			assert.Zero(t, ns.ReadyPods(t, rel.Selector("web")), "Ready web pods after a failed install")
			assert.Zero(t, ns.ReadyPods(t, rel.Selector("worker")), "Ready worker pods after a failed install")
		})
	}
}
