//go:build e2e

package harness

import (
	"encoding/json"
	"strings"
	"testing"
)

func obj(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// What a silent drop looks like, and what the API server's serialization only spells differently.
func TestStoredAsSent(t *testing.T) {
	cases := []struct {
		name, sent, stored string
		want               []string // one substring per expected finding, in order; none: no finding
	}{
		{"identical plus defaults", `{"kind":"Service","spec":{"ports":[{"port":80}]}}`,
			`{"kind":"Service","metadata":{"uid":"x"},"spec":{"ports":[{"port":80,"protocol":"TCP"}],"clusterIP":"10.0.0.1"}}`, nil},
		{"a field dropped", `{"kind":"Service","spec":{"trafficDistribution":"PreferClose","type":"ClusterIP"}}`,
			`{"kind":"Service","spec":{"type":"ClusterIP"}}`, []string{`dropped .spec.trafficDistribution: sent "PreferClose"`}},
		{"a nested object dropped", `{"kind":"Pod","spec":{"containers":[{"name":"a","resizePolicy":[{"resourceName":"cpu"}]}]}}`,
			`{"kind":"Pod","spec":{"containers":[{"name":"a"}]}}`, []string{"dropped .spec.containers[0].resizePolicy"}},
		{"a list item dropped", `{"kind":"Pod","spec":{"initContainers":[{"name":"a"},{"name":"b"}]}}`,
			`{"kind":"Pod","spec":{"initContainers":[{"name":"a"}]}}`, []string{"dropped .spec.initContainers: sent 2 items, stored 1"}},
		{"a value changed", `{"kind":"Pod","spec":{"restartPolicy":"Always"}}`, `{"kind":"Pod","spec":{"restartPolicy":"Never"}}`,
			[]string{`changed .spec.restartPolicy: sent "Always", stored "Never"`}},
		{"false is a value", `{"kind":"Pod","spec":{"hostUsers":false}}`, `{"kind":"Pod","spec":{}}`, []string{"dropped .spec.hostUsers"}},
		{"empty values left out", `{"kind":"Pod","metadata":{"annotations":{}},"spec":{"tolerations":[],"nodeName":"","x":null}}`,
			`{"kind":"Pod","spec":{}}`, nil},
		{"quantities in other spellings", `{"kind":"Pod","spec":{"r":{"cpu":0.5,"memory":"1024Mi","n":1}}}`,
			`{"kind":"Pod","spec":{"r":{"cpu":"500m","memory":"1Gi","n":"1"}}}`, nil},
		{"a quantity changed", `{"kind":"Pod","spec":{"r":{"cpu":"1"}}}`, `{"kind":"Pod","spec":{"r":{"cpu":"2"}}}`, []string{"changed .spec.r.cpu"}},
		{"stringData stored as data", `{"kind":"Secret","stringData":{"k":"v"}}`, `{"kind":"Secret","data":{"k":"dg=="}}`, nil},
		{"stringData lost, value not shown", `{"kind":"Secret","stringData":{"k":"hunter2-secret"}}`, `{"kind":"Secret","data":{"k":"eA=="}}`,
			[]string{"changed .stringData.k: stored data differs"}},
		{"a Secret's data never printed", `{"kind":"Secret","data":{"k":"aHVudGVyMg=="}}`, `{"kind":"Secret","data":{"k":"eA=="}}`,
			[]string{"changed .data.k: (value not shown)"}},
	}
	for _, c := range cases {
		got := StoredAsSent(obj(t, c.sent), obj(t, c.stored))
		if len(got) != len(c.want) {
			t.Errorf("%s: %d findings, want %d:\n%s", c.name, len(got), len(c.want), FindingsText(got))
			continue
		}
		for i, w := range c.want {
			if !strings.Contains(got[i].String(), w) {
				t.Errorf("%s: finding %q, want one saying %q", c.name, got[i], w)
			}
			if strings.Contains(got[i].String(), "hunter2") || strings.Contains(got[i].String(), "aHVudGVyMg") {
				t.Errorf("%s: a Secret value reached the finding %q", c.name, got[i])
			}
		}
	}
}

func TestSplitManifest(t *testing.T) {
	objs, err := SplitManifest([]byte("---\n# Source: a\napiVersion: v1\nkind: A\n---\n\n---\napiVersion: v1\nkind: B\nmetadata:\n  name: b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 || kindOf(objs[0]) != "A" || nameOf(objs[1]) != "b" {
		t.Fatalf("got %v", objs)
	}
}
