package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/input"
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

// FuzzComment feeds arbitrary bodies to the decoder of approve, deny and close: it must
// never panic, every fault must name the comment or the body (or an unknown member by its
// own key), a comment it accepts must be within the limits, and re-encoding it must decode
// to the same comment.
func FuzzComment(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"comment": "checked with the owner"}`, `{"comment": null}`, `{"comment": 1}`,
		`{"comment": "a", "comment": "b"}`, `{"comment": "ok", "as": "admin"}`, `[]`, `null`, `"x"`, `{`, `{} {}`,
		"{\"comment\": \"line\\nbreak\"}", " \n\t ",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		comment, bad := DecodeComment(body)
		for _, p := range bad {
			if p.Name != "body" && p.Name != "comment" && !strings.Contains(p.Reason, "unknown field") {
				t.Fatalf("fault names %q: %s", p.Name, p.Reason)
			}
		}
		if len(bad) > 0 {
			if comment != "" {
				t.Fatalf("a refused body gave the comment %q", comment)
			}
			return
		}
		if len(comment) > MaxComment || !input.Printable(comment) {
			t.Fatalf("accepted a comment outside the limits: %q", comment)
		}
		again, err := json.Marshal(commentBody{Comment: comment})
		if err != nil {
			t.Fatal(err)
		}
		if back, bad := DecodeComment(again); len(bad) > 0 || back != comment {
			t.Fatalf("%q decodes to %q, re-encoded %s decodes to %q %v", body, comment, again, back, bad)
		}
	})
}

// FuzzExceptionRequest feeds arbitrary bodies to the POST /v1/exceptions and revoke
// decoders: they must never panic, every fault must name a field of the body (or the body
// itself, or an unknown member by its own key), and a body that decodes cleanly must decode
// to the same request once re-encoded.
func FuzzExceptionRequest(f *testing.F) {
	for _, seed := range []string{
		`{"resource": "i-0abc", "playbooks": ["*"], "reason": "forensic image", "expires": "2026-12-01T00:00:00Z", "approved_by": "alice"}`,
		`{"account": "111122223333", "playbooks": ["ec2-compromise-prod", "*"], "reason": "r", "expires": "2026-12-01T00:00:00+02:00"}`,
		`{"resource": 1, "playbooks": "*", "expires": 0}`, `{"playbooks": [1, null]}`, `{"playbooks": [""]}`, `{"playbooks": null}`,
		`{"reason": "a", "reason": "b"}`, `{"reason": "done", "force": true}`, `[]`, `null`, `""`, `{`, `{} {}`,
	} {
		f.Add([]byte(seed))
	}
	names := append([]string{"body"}, exceptionFields...)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, bad := DecodeExceptionRequest(body)
		for _, p := range bad {
			if !slices.Contains(names, p.Name) && !strings.Contains(p.Reason, "unknown field") {
				t.Fatalf("fault names %q: %s", p.Name, p.Reason)
			}
		}
		if len(bad) == 0 {
			again, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			back, bad := DecodeExceptionRequest(again)
			if len(bad) > 0 || !reflect.DeepEqual(back, req) {
				t.Fatalf("%s decodes to %+v, re-encoded %s decodes to %+v %v", body, req, again, back, bad)
			}
		}

		rev, bad := DecodeRevokeRequest(body)
		for _, p := range bad {
			if p.Name != "body" && p.Name != "reason" && !strings.Contains(p.Reason, "unknown field") {
				t.Fatalf("revoke fault names %q: %s", p.Name, p.Reason)
			}
		}
		if len(bad) == 0 {
			again, err := json.Marshal(rev)
			if err != nil {
				t.Fatal(err)
			}
			if back, bad := DecodeRevokeRequest(again); len(bad) > 0 || back != rev {
				t.Fatalf("%s decodes to %+v, re-encoded %s decodes to %+v %v", body, rev, again, back, bad)
			}
		}
	})
}
