package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// asAdmin names the caller of exception changes in these tests.
func asAdmin(name string) context.Context {
	return WithCaller(context.Background(), Caller{Name: name, Source: "192.0.2.1", RequestID: "req-" + name})
}

// TestCreateExceptionInvalid checks that each fault of a request is named by its field and
// that an invalid request stores and audits nothing.
func TestCreateExceptionInvalid(t *testing.T) {
	f := newFixture(t, store.SQLite, options{})
	now := time.Now()
	valid := ExceptionRequest{Resource: webProd.ID, Playbooks: []string{"*"}, Reason: "vendor appliance", Expires: now.Add(24 * time.Hour)}
	tests := []struct {
		name   string
		change func(*ExceptionRequest)
		field  string
		reason string
	}{
		{"neither resource nor account", func(r *ExceptionRequest) { r.Resource = "" }, "resource", "give the resource"},
		{"both resource and account", func(r *ExceptionRequest) { r.Account = "111122223333" }, "account", "not both"},
		{"short account", func(r *ExceptionRequest) { r.Resource, r.Account = "", "1111" }, "account", "12-digit"},
		{"resource with a space", func(r *ExceptionRequest) { r.Resource = "i-1 i-2" }, "resource", "without spaces"},
		{"no playbooks", func(r *ExceptionRequest) { r.Playbooks = nil }, "playbooks", "required"},
		{"misspelt playbook", func(r *ExceptionRequest) { r.Playbooks = []string{"ec2-compromise-prd"} }, "playbooks",
			`no playbook is called "ec2-compromise-prd" (did you mean "ec2-compromise-prod"?)`},
		{"blank reason", func(r *ExceptionRequest) { r.Reason = "  " }, "reason", "required"},
		{"reason with a control character", func(r *ExceptionRequest) { r.Reason = "a\x00b" }, "reason", "printable"},
		{"no expiry", func(r *ExceptionRequest) { r.Expires = time.Time{} }, "expires", "required"},
		{"expired", func(r *ExceptionRequest) { r.Expires = now.Add(-time.Minute) }, "expires", "must be in the future"},
		{"too far ahead", func(r *ExceptionRequest) { r.Expires = now.Add(MaxExceptionLifetime + time.Hour) }, "expires", "at most 90 days"},
		{"approver too long", func(r *ExceptionRequest) { r.ApprovedBy = strings.Repeat("a", 300) }, "approved_by", "at most"},
	}
	before := f.auditKinds(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid
			tt.change(&req)
			_, err := f.eng.CreateException(asAdmin("alice"), req)
			var inv *InvalidExceptionError
			if !errors.As(err, &inv) || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v, want an *InvalidExceptionError", err)
			}
			if len(inv.Problems) != 1 || inv.Problems[0].Field != tt.field || !strings.Contains(inv.Problems[0].Reason, tt.reason) {
				t.Errorf("problems %+v, want one naming %s: %q", inv.Problems, tt.field, tt.reason)
			}
		})
	}
	if _, err := f.eng.CreateException(context.Background(), valid); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("without a caller: %v, want ErrInvalidRequest", err)
	}
	list, err := f.eng.ListExceptions(context.Background(), store.ExceptionFilter{})
	if err != nil || len(list) != 0 {
		t.Errorf("exceptions after invalid requests: %d, %v; want none", len(list), err)
	}
	if after := f.auditKinds(t); after["exception.created"] != before["exception.created"] {
		t.Errorf("exception.created records after invalid requests: %d", after["exception.created"])
	}
}

// TestExceptionDecisions follows a runtime exception through decisions on both databases:
// while in force, the C2 finding on the instance is decided excepted, naming it, and no
// incident opens; a self-service request on the instance is refused and audited; once
// revoked, both go ahead.
func TestExceptionDecisions(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d store.Dialect) {
		f := newFixture(t, d, options{})
		ctx := asAdmin("alice")
		expires := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
		x, err := f.eng.CreateException(ctx, ExceptionRequest{Resource: webProd.ID, Playbooks: []string{"*"},
			Reason: "forensic image in progress", ApprovedBy: "bob", Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(x.ID, "exc-") || x.CreatedBy != "alice" || x.ApprovedBy != "bob" || !x.Expires.Equal(expires) {
			t.Errorf("created %+v", x)
		}

		evs := readEvents(t, c2Prod)
		decisions := f.eng.decider.Load().Decide(context.Background(), evs[0], f.eng.cfg.Inventory)
		want := "excepted by exception " + x.ID + " (approved by bob, until " + expires.Format(time.RFC3339) + "): forensic image in progress"
		if len(decisions) == 0 || decisions[0].Outcome != decide.Excepted || decisions[0].Reason != want {
			t.Fatalf("decisions %+v, want excepted: %s", decisions, want)
		}
		if _, _, err := f.eng.Accept(context.Background(), evs, "test"); err != nil {
			t.Fatal(err)
		}
		if list, _ := f.eng.List(context.Background(), store.Filter{}); len(list) != 0 {
			t.Errorf("%d incidents for an excepted instance, want none", len(list))
		}

		target := webProd // the instance the example C2 finding (c2Prod) is about
		requester := WithCaller(context.Background(), Caller{Name: "carol"})
		_, _, err = f.eng.RequestAction(requester, "ec2.isolate", target, "suspected compromise", "")
		if !errors.Is(err, ErrExcepted) || !strings.Contains(err.Error(), x.ID) {
			t.Errorf("request on an excepted instance: %v, want ErrExcepted naming %s", err, x.ID)
		}
		if n := f.auditKinds(t)["action.excepted"]; n != 1 {
			t.Errorf("%d action.excepted records, want 1", n)
		}

		if _, err := f.eng.RevokeException(ctx, x.ID, ""); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("revoke without a reason: %v, want ErrInvalidRequest", err)
		}
		revoked, err := f.eng.RevokeException(asAdmin("dave"), x.ID, "imaging finished")
		if err != nil {
			t.Fatal(err)
		}
		if revoked.RevokedBy != "dave" || revoked.RevokeReason != "imaging finished" || revoked.State(time.Now()) != store.ExceptionRevoked {
			t.Errorf("revoked %+v", revoked)
		}
		if _, err := f.eng.RevokeException(ctx, x.ID, "again"); !errors.Is(err, ErrConflict) {
			t.Errorf("revoke twice: %v, want ErrConflict", err)
		}
		if _, err := f.eng.RevokeException(ctx, "exc-none", "why"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoke an unknown exception: %v, want ErrNotFound", err)
		}
		if d := f.eng.decider.Load().Decide(context.Background(), evs[0], f.eng.cfg.Inventory); d[0].Outcome == decide.Excepted {
			t.Errorf("after revoking, decided %+v", d[0])
		}
		inc, _, err := f.eng.RequestAction(requester, "ec2.isolate", target, "suspected compromise", "")
		if err != nil {
			t.Fatalf("request after revoking: %v", err)
		}
		f.waitFor(t, inc.ID, store.StateContained)

		recs := auditRecords(t, f.store)
		var created, revokedRec *store.AuditRecord
		for i := range recs {
			switch recs[i].Kind {
			case "exception.created":
				created = &recs[i]
			case "exception.revoked":
				revokedRec = &recs[i]
			}
		}
		if created == nil || created.Actor != "alice" || created.Subject != x.ID || created.RequestID != "req-alice" {
			t.Errorf("exception.created record %+v, want one by alice about %s", created, x.ID)
		}
		if revokedRec == nil || revokedRec.Actor != "dave" || !strings.Contains(string(revokedRec.Data), "imaging finished") {
			t.Errorf("exception.revoked record %+v, want one by dave with the reason", revokedRec)
		}
		if _, err := f.store.VerifyAudit(context.Background()); err != nil {
			t.Error(err)
		}
	})
}

// TestExpiredExceptionNote checks that an exception that expired is not in force and that
// the decision says it expired.
func TestExpiredExceptionNote(t *testing.T) {
	now := time.Now()
	f := newFixture(t, store.SQLite, options{})
	x, err := f.eng.CreateException(asAdmin("alice"), ExceptionRequest{Resource: webProd.ID, Playbooks: []string{"ec2-compromise-prod"},
		Reason: "patch window", Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// The decider's clock is its own: decide as if two hours had passed.
	later := decide.New(deciderSet(t), decide.Options{Now: func() time.Time { return now.Add(2 * time.Hour) }})
	f.eng.SetDecider(later)
	for _, d := range later.Decide(context.Background(), readEvents(t, c2Prod)[0], f.eng.cfg.Inventory) {
		if d.Playbook != "ec2-compromise-prod" {
			continue
		}
		if d.Outcome != decide.Planned || !strings.HasPrefix(d.Reason, "exception "+x.ID+" (approved by alice") || !strings.Contains(d.Reason, "expired on") {
			t.Errorf("decided %s: %s; want planned, with a note that %s expired", d.Outcome, d.Reason, x.ID)
		}
		return
	}
	t.Error("ec2-compromise-prod made no decision")
}

// TestExceptionReachesOtherReplica runs two engines on one PostgreSQL database, each with a
// decider of its own: an exception created through one takes effect in the other at its
// next reload, and so does its revocation.
func TestExceptionReachesOtherReplica(t *testing.T) {
	fast := func(c *Config) { c.ExceptionRefresh = 50 * time.Millisecond }
	f := newFixture(t, store.Postgres, options{configure: fast})
	cfg := f.eng.cfg
	cfg.Decider = decide.New(deciderSet(t), decide.Options{})
	other, err := New(f.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := other.Stop(stop); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	excepted := func() string { return other.exceptedTarget(webProd) }

	x, err := f.eng.CreateException(asAdmin("alice"), ExceptionRequest{Account: "111122223333", Playbooks: []string{"*"},
		Reason: "game day", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other replica applies the exception", func() bool { return strings.Contains(excepted(), x.ID) })
	if _, err := f.eng.RevokeException(asAdmin("alice"), x.ID, "game day over"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the other replica drops the revoked exception", func() bool { return excepted() == "" })
}

// TestSetDeciderKeepsExceptions checks that a reloaded decider is given the exceptions in
// force before it decides anything.
func TestSetDeciderKeepsExceptions(t *testing.T) {
	f := newFixture(t, store.SQLite, options{})
	x, err := f.eng.CreateException(asAdmin("alice"), ExceptionRequest{Resource: webProd.ID, Playbooks: []string{"*"},
		Reason: "vendor appliance", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	fresh := decide.New(deciderSet(t), decide.Options{})
	f.eng.SetDecider(fresh)
	if xs := fresh.Exceptions(); len(xs) != 1 || xs[0].ID != x.ID {
		t.Errorf("the new decider has exceptions %+v, want %s", xs, x.ID)
	}
}

func deciderSet(t *testing.T) *playbook.Set {
	t.Helper()
	set, err := playbook.LoadDir(playbooksDir, catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: not yet: %s", what)
		}
	}
}
