package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// TestAudit checks GET /v1/audit: pages in sequence order that follow each other by
// next_after, the kind filter, problems naming the parameter at fault, and a scoped
// administrator refused.
func TestAudit(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	ctx := context.Background()
	err := f.store.Write(ctx, func(tx *store.Tx) error {
		for i := range 7 {
			kind := "test.even"
			if i%2 == 1 {
				kind = "test.odd"
			}
			if _, err := f.store.Audit(ctx, tx, store.AuditRecord{Kind: kind, Actor: "test", Subject: fmt.Sprint(i), Data: []byte(`{"i": 1}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := f.token(t, auth.Admin, time.Hour)
	admin := bearer(tok)
	total, err := f.store.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var seqs []int64
	after := ""
	for range 20 {
		w := f.do(t, http.MethodGet, "/v1/audit?limit=3"+after, admin, "")
		if w.Code != http.StatusOK {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		page := decodeAs[AuditList](t, w)
		for _, r := range page.Records {
			seqs = append(seqs, r.Seq)
		}
		if page.NextAfter == 0 {
			break
		}
		after = fmt.Sprintf("&after=%d", page.NextAfter)
	}
	if int64(len(seqs)) != total.Records {
		t.Errorf("paged through %d records, want %d", len(seqs), total.Records)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("record %d has seq %d: pages skip or repeat records (%v)", i, s, seqs)
		}
	}

	w := f.do(t, http.MethodGet, "/v1/audit?kind=test.odd", admin, "")
	if page := decodeAs[AuditList](t, w); len(page.Records) != 3 || page.Records[0].Kind != "test.odd" || page.NextAfter != 0 {
		t.Errorf("kind=test.odd: %d %+v, want the 3 odd records on one page", w.Code, page)
	}

	tests := []struct{ query, param string }{
		{"?after=-1", "after"},
		{"?after=x", "after"},
		{"?limit=0", "limit"},
		{"?limit=1001", "limit"},
		{"?kind=" + strings.Repeat("k", 65), "kind"},
		{"?kind=a%20b", "kind"},
		{"?actor=me", "actor"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := f.do(t, http.MethodGet, "/v1/audit"+tt.query, admin, "")
			if p := decodeAs[Problem](t, w); w.Code != http.StatusBadRequest || len(p.InvalidParams) == 0 || p.InvalidParams[0].Name != tt.param {
				t.Errorf("%d %+v, want 400 naming %s", w.Code, p, tt.param)
			}
		})
	}

	scoped, _ := f.token(t, auth.Admin, time.Hour, prodAccount)
	for _, path := range []string{"/v1/audit", "/v1/audit/verify"} {
		if w := f.do(t, http.MethodGet, path, bearer(scoped), ""); w.Code != http.StatusForbidden {
			t.Errorf("%s as a scoped administrator: %d, want 403", path, w.Code)
		}
	}
}

// TestAuditVerify checks GET /v1/audit/verify on an intact chain and on one with an
// edited record.
func TestAuditVerify(t *testing.T) {
	f := newFixture(t, store.SQLite, RateLimit{}, nil)
	ctx := context.Background()
	tok, _ := f.token(t, auth.Admin, time.Hour)
	err := f.store.Write(ctx, func(tx *store.Tx) error {
		for i := range 3 {
			if _, err := f.store.Audit(ctx, tx, store.AuditRecord{Kind: "test", Actor: "test", Subject: fmt.Sprint(i), Data: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.store.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := f.do(t, http.MethodGet, "/v1/audit/verify", bearer(tok), "")
	got := decodeAs[AuditVerification](t, w)
	if w.Code != http.StatusOK || !got.Intact || got.Records != want.Records || got.Head != want.Head || got.First == nil || got.FirstBad != nil {
		t.Errorf("intact chain: %d %+v, want %+v", w.Code, got, want)
	}

	err = f.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE audit SET actor = ? WHERE seq = ?`, "someone else", 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	w = f.do(t, http.MethodGet, "/v1/audit/verify", bearer(tok), "")
	got = decodeAs[AuditVerification](t, w)
	if w.Code != http.StatusOK || got.Intact || got.FirstBad == nil || got.FirstBad.Seq != 2 || !strings.Contains(got.FirstBad.Reason, "edited") {
		t.Errorf("edited chain: %d %+v, want record 2 named as edited", w.Code, got)
	}
	if w := f.do(t, http.MethodGet, "/v1/audit/verify?from=1", bearer(tok), ""); w.Code != http.StatusBadRequest {
		t.Errorf("a query parameter: %d, want 400", w.Code)
	}
}
