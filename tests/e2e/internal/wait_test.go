//go:build e2e

package harness

import (
	"strings"
	"testing"
)

// The states a just-created object passes through: each but the last must read as "keep waiting".
func TestConditionStateKeepsWaitingUntilTrue(t *testing.T) {
	cases := []struct {
		name, json string
		done       bool
		says       string
	}{
		{"a CRD just applied: no status", `{"kind":"CustomResourceDefinition","metadata":{"name":"x.example.com"}}`, false, "no Established condition yet (status.conditions: unset)"},
		{"status without conditions", `{"kind":"Certificate","metadata":{"name":"c"},"status":{}}`, false, "status.conditions: unset"},
		{"other conditions only", `{"kind":"CustomResourceDefinition","metadata":{"name":"x"},"status":{"conditions":[{"type":"NamesAccepted","status":"True"}]}}`, false, "NamesAccepted=True"},
		{"condition False", `{"kind":"Certificate","metadata":{"name":"c"},"status":{"conditions":[{"type":"Established","status":"False","reason":"Issuing","message":"not yet"}]}}`, false, "Established=False reason=Issuing message=not yet"},
		{"empty list", `{"kind":"List","items":[]}`, false, "no object yet"},
		{"one of two not ready", `{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"},"status":{"conditions":[{"type":"Established","status":"True"}]}},{"kind":"Pod","metadata":{"name":"b"}}]}`, false, "Pod/b: no Established condition yet"},
		{"not JSON", `error: the server doesn't have a resource type`, false, "unreadable kubectl output"},
		{"done", `{"kind":"CustomResourceDefinition","metadata":{"name":"x"},"status":{"conditions":[{"type":"Established","status":"True"}]}}`, true, "Established=True"},
		{"list done", `{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"a"},"status":{"conditions":[{"type":"Established","status":"True"}]}}]}`, true, "Pod/a: Established=True"},
	}
	for _, c := range cases {
		done, state := conditionState([]byte(c.json), "Established")
		if done != c.done || !strings.Contains(state, c.says) {
			t.Errorf("%s: got done=%v state %q; want done=%v and a state saying %q", c.name, done, state, c.done, c.says)
		}
	}
}
