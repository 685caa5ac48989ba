package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
)

// FuzzActionRequest feeds arbitrary bodies to the POST /v1/actions decoder and validator:
// they must never panic, every fault must name a field of the body (or the body itself),
// and a body that decodes cleanly must decode to the same request once re-encoded.
func FuzzActionRequest(f *testing.F) {
	for _, seed := range []string{
		`{"action": "ec2.isolate", "target": {"account": "111122223333", "region": "us-east-1", "kind": "instance", "id": "i-0abc"}, "reason": "suspected compromise", "ticket": "INC-42"}`,
		`{"action": 1, "target": [], "reason": null}`,
		`{"target": {"account": 111122223333, "x": 1}}`,
		`{"action": "ec2.isolate", "action": "iam.deactivate-user"}`,
		`[]`, `null`, `""`, `{`, `{} {}`, "{\"reason\": \"\u0000\"}", `{"target": null}`,
	} {
		f.Add([]byte(seed))
	}
	cat := catalog.Default()
	names := append([]string{"body", "target"}, requestFields...)
	for _, n := range targetFields {
		names = append(names, "target."+n)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, bad := DecodeActionRequest(body)
		for _, p := range bad {
			// An unknown member is named by its own key, which may be anything.
			if !slices.Contains(names, p.Name) && !strings.Contains(p.Reason, "unknown field") {
				t.Fatalf("fault names %q: %s", p.Name, p.Reason)
			}
		}
		if len(bad) > 0 {
			return
		}
		for _, p := range validate(&req, cat) {
			if !slices.Contains(names, p.Name) {
				t.Fatalf("validation names %q: %s", p.Name, p.Reason)
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, bad := DecodeActionRequest(again)
		if len(bad) > 0 || back != req {
			t.Fatalf("%s decodes to %+v, re-encoded %s decodes to %+v %v", body, req, again, back, bad)
		}
	})
}
