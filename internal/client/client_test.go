package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/api"
)

// TestRequests checks the method, path, query, body and headers each call sends.
func TestRequests(t *testing.T) {
	type sent struct{ method, uri, auth, ctype, body string }
	var got sent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = sent{r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	tests := []struct {
		name string
		call func(c *Client) error
		want sent
	}{
		{"isolate", func(c *Client) error {
			_, err := c.Isolate(ctx, "111122223333", "us-east-1", "i-1", "why", "T-1")
			return err
		}, sent{"POST", "/prefix/v1/actions", "Bearer tok", "application/json",
			`{"action":"ec2.isolate","target":{"account":"111122223333","region":"us-east-1","kind":"instance","id":"i-1"},"reason":"why","ticket":"T-1"}`}},
		{"list with filters", func(c *Client) error {
			_, err := c.ListIncidents(ctx, ListOptions{State: "contained", Account: "111122223333", Limit: 5, Cursor: "abc"})
			return err
		}, sent{"GET", "/prefix/v1/incidents?account=111122223333&cursor=abc&limit=5&state=contained", "Bearer tok", "", ""}},
		{"list unfiltered", func(c *Client) error {
			_, err := c.ListIncidents(ctx, ListOptions{})
			return err
		}, sent{"GET", "/prefix/v1/incidents", "Bearer tok", "", ""}},
		{"an id is one path segment", func(c *Client) error {
			_, err := c.GetIncident(ctx, "../x/y")
			return err
		}, sent{"GET", "/prefix/v1/incidents/..%2Fx%2Fy", "Bearer tok", "", ""}},
		{"approve with a comment", func(c *Client) error {
			_, err := c.Approve(ctx, "inc-1", 2, "ok")
			return err
		}, sent{"POST", "/prefix/v1/incidents/inc-1/steps/2/approve", "Bearer tok", "application/json", `{"comment":"ok"}`}},
		{"deny without a comment", func(c *Client) error {
			_, err := c.Deny(ctx, "inc-1", 0, "")
			return err
		}, sent{"POST", "/prefix/v1/incidents/inc-1/steps/0/deny", "Bearer tok", "application/json", `{}`}},
		{"release", func(c *Client) error {
			_, err := c.Release(ctx, "inc-1")
			return err
		}, sent{"POST", "/prefix/v1/incidents/inc-1/release", "Bearer tok", "", ""}},
		{"close with a comment", func(c *Client) error {
			_, err := c.Close(ctx, "inc-1", "owner rebuilt it")
			return err
		}, sent{"POST", "/prefix/v1/incidents/inc-1/close", "Bearer tok", "application/json", `{"comment":"owner rebuilt it"}`}},
		{"close without a comment", func(c *Client) error {
			_, err := c.Close(ctx, "inc/1", "")
			return err
		}, sent{"POST", "/prefix/v1/incidents/inc%2F1/close", "Bearer tok", "application/json", `{}`}},
	}
	c, err := New(srv.URL+"/prefix/", "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = sent{}
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("sent %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestErrors checks that error answers become *Error, with the problem document's fields
// when there is one.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		status            int
		want              Error
	}{
		{"problem", api.ProblemContentType,
			`{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"reason: required","request_id":"r1","invalid_params":[{"name":"reason","reason":"required"}]}`,
			422, Error{Status: 422, Title: "Unprocessable Entity", Detail: "reason: required", RequestID: "r1",
				InvalidParams: []api.InvalidParam{{Name: "reason", Reason: "required"}}}},
		{"not a problem", "text/html", "<h1>Bad Gateway</h1>", 502, Error{Status: 502, Title: "Bad Gateway", Detail: "<h1>Bad Gateway</h1>", RequestID: "hdr"}},
		{"long body clipped", "text/plain", strings.Repeat("x", 300), 500,
			Error{Status: 500, Title: "Internal Server Error", Detail: strings.Repeat("x", 200) + "...", RequestID: "hdr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.ctype)
				w.Header().Set("X-Request-Id", "hdr")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			defer srv.Close()
			c, err := New(srv.URL, "tok", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetIncident(context.Background(), "inc-1")
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Status != tt.want.Status || e.Title != tt.want.Title || e.Detail != tt.want.Detail || e.RequestID != tt.want.RequestID ||
				!slices.Equal(e.InvalidParams, tt.want.InvalidParams) {
				t.Errorf("got %+v\nwant %+v", *e, tt.want)
			}
		})
	}
}

// TestParseAddr checks which server addresses are taken.
func TestParseAddr(t *testing.T) {
	tests := []struct {
		addr, want, wantErr string
	}{
		{addr: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{addr: "https://firebreak.example.com/api/", want: "https://firebreak.example.com/api"},
		{addr: "127.0.0.1:8080", wantErr: "http:// or https://"},
		{addr: "https://", wantErr: "names no host"},
		{addr: "https://u:p@example.com", wantErr: "only scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			u, err := ParseAddr(tt.addr)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case u.String() != tt.want:
				t.Errorf("got %s, want %s", u, tt.want)
			}
		})
	}
}
