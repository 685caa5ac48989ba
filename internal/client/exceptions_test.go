package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/api"
)

// TestExceptionRequests checks the method, path, query and body each exception call sends,
// and that a refusal becomes an *Error naming the field.
func TestExceptionRequests(t *testing.T) {
	type sent struct{ method, uri, body string }
	var got sent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = sent{r.Method, r.RequestURI, string(b)}
		if r.URL.Path == "/v1/exceptions/exc-bad/revoke" {
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintln(w, `{"type": "about:blank", "title": "Unprocessable Entity", "status": 422, "detail": "reason: required",
				"invalid_params": [{"name": "reason", "reason": "required"}]}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{}`)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want sent
	}{
		{"list in force", func() error { _, err := c.ListExceptions(ctx, ExceptionListOptions{}); return err },
			sent{"GET", "/v1/exceptions", ""}},
		{"list all of an account", func() error {
			_, err := c.ListExceptions(ctx, ExceptionListOptions{State: "all", Account: "111122223333"})
			return err
		}, sent{"GET", "/v1/exceptions?account=111122223333&state=all", ""}},
		{"create", func() error {
			_, err := c.CreateException(ctx, api.ExceptionRequest{Resource: "i-1", Playbooks: []string{"*"}, Reason: "why", Expires: "2026-12-01T00:00:00Z"})
			return err
		}, sent{"POST", "/v1/exceptions", `{"resource":"i-1","playbooks":["*"],"reason":"why","expires":"2026-12-01T00:00:00Z"}`}},
		{"get, the id one path segment", func() error { _, err := c.GetException(ctx, "../x"); return err },
			sent{"GET", "/v1/exceptions/..%2Fx", ""}},
		{"revoke", func() error { _, err := c.RevokeException(ctx, "exc-1", "done"); return err },
			sent{"POST", "/v1/exceptions/exc-1/revoke", `{"reason":"done"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("sent %+v\nwant %+v", got, tt.want)
			}
		})
	}
	_, err = c.RevokeException(ctx, "exc-bad", "")
	if e, ok := AsError(err); !ok || e.Status != 422 || len(e.InvalidParams) != 1 || e.InvalidParams[0].Name != "reason" {
		t.Errorf("refused revoke: %v, want a 422 *Error naming reason", err)
	}
}
