package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/input"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/suggest"
)

// Exceptions created at run time (through the API, the CLI or the console) live in the
// store, and each engine keeps those in force in memory, handed to its decider, which
// consults them after the playbooks' own and the exceptions file's. An engine reloads them
// when it starts, after each change it makes, and every Config.ExceptionRefresh, so that
// an exception created or revoked through another replica sharing the database takes
// effect here within that time.

// MaxExceptionLifetime is the longest an exception may last. Every exception expires, and
// within weeks: a deviation is approved again by someone who still knows why it exists,
// rather than left to keep a resource out of the playbooks' reach long after the reason
// for it has gone.
const MaxExceptionLifetime = 90 * 24 * time.Hour

// DefaultExceptionRefresh is how often an engine reloads the exceptions unless configured
// otherwise.
const DefaultExceptionRefresh = 15 * time.Second

// expiredNoteWindow is how long after it expired an exception is still loaded: a decision
// it would have changed then says that it expired, and when, which is what a responder
// asks first when a resource they thought excepted was acted on.
const expiredNoteWindow = 30 * 24 * time.Hour

// Limits on an exception's fields: generous for what they hold, small enough that nobody
// stores a document in the audit chain through them.
const (
	maxExceptionReason = 1000
	maxExceptionName   = 256
)

// ErrExcepted is wrapped by RequestAction's error for a target that an exception leaves
// alone; nothing was done, and the message names the exception.
var ErrExcepted = errors.New("excepted")

// ExceptionRequest is an exception as asked for.
type ExceptionRequest struct {
	// Resource is the resource's id or ARN; Account the account excepted as a whole.
	// Exactly one is given.
	Resource string
	Account  string
	// Playbooks are the names of the playbooks it applies to; "*" is every playbook.
	Playbooks []string
	Reason    string
	// ApprovedBy names who approved the deviation; the caller when empty.
	ApprovedBy string
	// Expires is when it ends: in the future, and at most MaxExceptionLifetime away.
	Expires time.Time
}

// InAccount is the account the exception would concern, by which the caller's scope is
// judged (see store.Exception.InAccount).
func (r ExceptionRequest) InAccount() string {
	return (&store.Exception{Resource: r.Resource, Account: r.Account}).InAccount()
}

// Subject names what the exception would cover, for a refusal: the resource, or the
// account.
func (r ExceptionRequest) Subject() string {
	if r.Resource != "" {
		return "resource " + r.Resource
	}
	return "account " + r.Account
}

// FieldProblem is what is wrong with one field of a request, the field named as the API's
// body names it.
type FieldProblem struct {
	Field, Reason string
}

// InvalidExceptionError lists what is wrong with a request to create or revoke an
// exception, field by field; nothing was changed. It wraps ErrInvalidRequest.
type InvalidExceptionError struct {
	Problems []FieldProblem
}

func (e *InvalidExceptionError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	return "the exception is not valid: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidRequest) hold.
func (e *InvalidExceptionError) Unwrap() error { return ErrInvalidRequest }

// PlaybookNames returns the names of the playbooks loaded now, sorted: what an exception
// may name.
func (e *Engine) PlaybookNames() []string {
	return e.decider.Load().PlaybookNames()
}

// CheckException returns what is wrong with req, field by field, judged against the
// playbooks loaded now and the engine's clock; nil when nothing is. CreateException checks
// the same; callers that must answer a bad request before anything else (the caller's
// account scope) call it first.
func (e *Engine) CheckException(req ExceptionRequest) []FieldProblem {
	var bad []FieldProblem
	add := func(field, reason string) { bad = append(bad, FieldProblem{field, reason}) }
	switch {
	case req.Resource == "" && req.Account == "":
		add("resource", "give the resource (its id or ARN) or the account the exception is for")
	case req.Resource != "" && req.Account != "":
		add("account", "give either resource or account, not both: an exception is for one resource or for a whole account")
	case req.Resource != "":
		if len(req.Resource) > maxExceptionName || !input.Printable(req.Resource) || strings.ContainsAny(req.Resource, " \t") {
			add("resource", fmt.Sprintf("must be a resource id or ARN: at most %d printable characters without spaces", maxExceptionName))
		}
	case !input.Account(req.Account):
		add("account", "must be a 12-digit AWS account id")
	}
	if len(req.Playbooks) == 0 {
		add("playbooks", `required; list the playbooks the exception applies to, or "*" for every playbook`)
	}
	names := e.PlaybookNames()
	for _, p := range req.Playbooks {
		if p != "*" && !slices.Contains(names, p) {
			add("playbooks", fmt.Sprintf("no playbook is called %q%s; name a loaded playbook, or \"*\" for every playbook",
				input.Clip(p), suggest.DidYouMean(p, names)))
		}
	}
	switch reason := strings.TrimSpace(req.Reason); {
	case reason == "":
		add("reason", "required; say why the deviation is approved, for the audit and the resource's owners")
	case len(reason) > maxExceptionReason || !input.Printable(reason):
		add("reason", fmt.Sprintf("must be at most %d printable characters", maxExceptionReason))
	}
	if len(req.ApprovedBy) > maxExceptionName || !input.Printable(req.ApprovedBy) {
		add("approved_by", fmt.Sprintf("must be at most %d printable characters", maxExceptionName))
	}
	now := e.cfg.Now()
	switch {
	case req.Expires.IsZero():
		add("expires", "required; every exception expires, at most 90 days ahead")
	case !req.Expires.After(now):
		add("expires", fmt.Sprintf("must be in the future; %s has passed", req.Expires.UTC().Format(time.RFC3339)))
	case req.Expires.Sub(now) > MaxExceptionLifetime:
		add("expires", fmt.Sprintf("must be at most 90 days ahead (by %s): an exception is approved again rather than kept for ever",
			now.Add(MaxExceptionLifetime).UTC().Format(time.RFC3339)))
	}
	return bad
}

// CreateException stores an exception, created by the context's caller (WithCaller) and
// approved by req.ApprovedBy (the caller when empty), audits it, and puts it in force on
// this engine at once; other replicas sharing the database follow at their next reload.
// An invalid request changes nothing and returns an *InvalidExceptionError.
func (e *Engine) CreateException(ctx context.Context, req ExceptionRequest) (*store.Exception, error) {
	caller := callerOf(ctx, "")
	if strings.TrimSpace(caller.Name) == "" {
		return nil, fmt.Errorf("create an exception: say who you are: %w", ErrInvalidRequest)
	}
	if bad := e.CheckException(req); len(bad) > 0 {
		return nil, &InvalidExceptionError{Problems: bad}
	}
	id, err := newExceptionID()
	if err != nil {
		return nil, err
	}
	x := &store.Exception{ID: id, Resource: req.Resource, Account: req.Account, Playbooks: dedupe(req.Playbooks),
		Reason: strings.TrimSpace(req.Reason), ApprovedBy: strings.TrimSpace(req.ApprovedBy), CreatedBy: caller.Name,
		Created: e.cfg.Now().UTC().Truncate(time.Microsecond), Expires: req.Expires.UTC().Truncate(time.Microsecond)}
	if x.ApprovedBy == "" {
		// Creating one takes the administrator's permission: whoever holds it approves.
		x.ApprovedBy = caller.Name
	}
	err = e.store.Write(ctx, func(tx *store.Tx) error {
		if err := e.store.CreateException(ctx, tx, x); err != nil {
			return err
		}
		return e.audit(ctx, tx, caller.Name, "exception.created", x.ID, x)
	})
	if err != nil {
		return nil, fmt.Errorf("create an exception for %s: %w", exceptionFor(x), err)
	}
	e.afterExceptionChange(ctx, x.ID)
	return x, nil
}

// RevokeException ends an exception before it expires, recording the context's caller and
// reason, and takes it out of force on this engine at once. The error wraps
// store.ErrNotFound for an unknown id, ErrConflict for one already revoked or expired, and
// is an *InvalidExceptionError without a reason.
func (e *Engine) RevokeException(ctx context.Context, id, reason string) (*store.Exception, error) {
	caller := callerOf(ctx, "")
	if strings.TrimSpace(caller.Name) == "" {
		return nil, fmt.Errorf("revoke exception %s: say who you are: %w", id, ErrInvalidRequest)
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return nil, &InvalidExceptionError{Problems: []FieldProblem{{"reason", "required; say why the exception ends early, for the audit"}}}
	case len(reason) > maxExceptionReason || !input.Printable(reason):
		return nil, &InvalidExceptionError{Problems: []FieldProblem{{"reason", fmt.Sprintf("must be at most %d printable characters", maxExceptionReason)}}}
	}
	var x *store.Exception
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		var err error
		if x, err = e.store.Exception(ctx, tx, id); err != nil {
			return err
		}
		now := e.cfg.Now().UTC().Truncate(time.Microsecond)
		switch x.State(now) {
		case store.ExceptionRevoked:
			return fmt.Errorf("%s revoked it at %s already: %w", x.RevokedBy, x.Revoked.Format(time.RFC3339), ErrConflict)
		case store.ExceptionExpired:
			return fmt.Errorf("it expired at %s, so there is nothing to revoke: %w", x.Expires.Format(time.RFC3339), ErrConflict)
		}
		ok, err := e.store.RevokeException(ctx, tx, id, caller.Name, reason, now)
		if err != nil {
			return err
		}
		if !ok {
			// The write lock makes this unreachable; say so plainly if it is not.
			return fmt.Errorf("it was revoked meanwhile: %w", ErrConflict)
		}
		x.Revoked, x.RevokedBy, x.RevokeReason = now, caller.Name, reason
		return e.audit(ctx, tx, caller.Name, "exception.revoked", x.ID, map[string]any{
			"reason": reason, "resource": x.Resource, "account": x.Account, "playbooks": x.Playbooks})
	})
	if err != nil {
		return nil, fmt.Errorf("revoke exception %s: %w", id, err)
	}
	e.afterExceptionChange(ctx, id)
	return x, nil
}

// Exception returns one exception, in force or not; the error wraps store.ErrNotFound when
// there is none.
func (e *Engine) Exception(ctx context.Context, id string) (*store.Exception, error) {
	var x *store.Exception
	err := e.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		x, err = e.store.Exception(ctx, tx, id)
		return err
	})
	return x, err
}

// ListExceptions returns the exceptions f chooses, newest first.
func (e *Engine) ListExceptions(ctx context.Context, f store.ExceptionFilter) ([]*store.Exception, error) {
	var out []*store.Exception
	err := e.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		out, err = e.store.ListExceptions(ctx, tx, f)
		return err
	})
	return out, err
}

// afterExceptionChange reloads the exceptions once a change is committed. A failure does
// not undo the change, which is stored and audited: the periodic reload puts it in force.
func (e *Engine) afterExceptionChange(ctx context.Context, id string) {
	if err := e.ReloadExceptions(context.WithoutCancel(ctx)); err != nil {
		e.cfg.Logger.Warn("exception changed, but reloading the exceptions failed; it takes effect at the next reload",
			"exception", id, "err", err)
	}
}

// ReloadExceptions reads the exceptions not revoked (those expired recently included, for
// their note) from the store and hands them to the decider. Loads may overlap (a change,
// the periodic reload); the one that began last wins, since it read the latest state.
func (e *Engine) ReloadExceptions(ctx context.Context) error {
	seq := e.exc.begun.Add(1)
	list, err := e.ListExceptions(ctx, store.ExceptionFilter{Unrevoked: true, ExpiresAfter: e.cfg.Now().Add(-expiredNoteWindow)})
	if err != nil {
		return fmt.Errorf("load the exceptions: %w", err)
	}
	entries := make([]*playbook.ExceptionEntry, len(list))
	for i, x := range list {
		entries[i] = &playbook.ExceptionEntry{ID: x.ID, Resource: x.Resource, Account: x.Account, Playbooks: x.Playbooks,
			Reason: x.Reason, ApprovedBy: x.ApprovedBy, Expires: x.Expires}
	}
	e.exc.mu.Lock()
	defer e.exc.mu.Unlock()
	if seq < e.exc.applied {
		return nil
	}
	e.exc.applied, e.exc.entries = seq, entries
	e.decider.Load().SetExceptions(entries)
	e.exc.loaded.Store(time.Now().UnixNano())
	return nil
}

// freshExceptions reloads the exceptions when the last load is older than twice the
// refresh interval, before events or requests are decided. An engine that is never
// started (the Lambda intake only accepts) has no periodic reload, and one whose reloads
// keep failing must not go on deciding with an ever older list: refusing to decide is
// safer than acting on a resource someone approved leaving alone.
func (e *Engine) freshExceptions(ctx context.Context) error {
	last := e.exc.loaded.Load()
	if last != 0 && time.Since(time.Unix(0, last)) < 2*e.cfg.ExceptionRefresh {
		return nil
	}
	if err := e.ReloadExceptions(ctx); err != nil {
		return fmt.Errorf("%w; nothing was decided", err)
	}
	return nil
}

// runtimeExceptions is the engine's in-memory copy of the exceptions and the state that
// keeps it consistent with the decider.
type runtimeExceptions struct {
	// begun numbers the loads as they begin.
	begun atomic.Int64
	// loaded is when a load was last applied, in Unix nanoseconds; 0 before the first.
	loaded atomic.Int64
	// loop is the periodic reload, started and stopped with the engine; nil when not
	// running.
	loop *exceptionLoop
	// mu guards what follows, and the hand-over of entries to a decider.
	mu sync.Mutex
	// applied is the number of the load entries came from.
	applied int64
	entries []*playbook.ExceptionEntry
}

// setDecider installs d with the exceptions in force, so that no event is decided by a new
// decider that lacks them.
func (e *Engine) setDecider(d *decide.Engine) {
	e.exc.mu.Lock()
	defer e.exc.mu.Unlock()
	d.SetExceptions(e.exc.entries)
	e.decider.Store(d)
}

// exceptionLoop is the running periodic reload.
type exceptionLoop struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// exceptionLoadTimeout bounds the load New makes, which has no context of its own.
const exceptionLoadTimeout = 30 * time.Second

// loadExceptions is New's first load. An engine that is never started still decides what
// it accepts (the Lambda intake does only that), so it begins with the exceptions in force
// rather than without them until its first event.
func (e *Engine) loadExceptions() error {
	ctx, cancel := context.WithTimeout(context.Background(), exceptionLoadTimeout)
	defer cancel()
	if err := e.ReloadExceptions(ctx); err != nil {
		return fmt.Errorf("engine: %w; check that the database is reachable and migrated", err)
	}
	return nil
}

// startExceptions loads the exceptions and starts reloading them periodically. A first
// load that fails fails the start: deciding without them would act on resources someone
// approved leaving alone.
func (e *Engine) startExceptions(ctx context.Context) error {
	if e.exc.loop != nil {
		return nil
	}
	if err := e.ReloadExceptions(ctx); err != nil {
		return fmt.Errorf("engine: %w; check the database", err)
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &exceptionLoop{cancel: cancel}
	l.wg.Go(func() {
		t := time.NewTicker(e.cfg.ExceptionRefresh)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if err := e.ReloadExceptions(lctx); err != nil && lctx.Err() == nil {
				e.cfg.Logger.Warn("reloading the exceptions failed; the ones loaded before stay in force", "err", err)
			}
		}
	})
	e.exc.loop = l
	return nil
}

// stopExceptions stops the periodic reload and waits for a reload under way to end.
func (e *Engine) stopExceptions() {
	if e.exc.loop == nil {
		return
	}
	e.exc.loop.cancel()
	e.exc.loop.wg.Wait()
	e.exc.loop = nil
}

// refuseExcepted audits a self-service request refused because an exception covers its
// target, and returns the error that says so. The refusal stands even when its record
// cannot be written.
func (e *Engine) refuseExcepted(ctx context.Context, who, actionName string, target action.Target, reason, ticket, excepted string) error {
	err := e.store.Write(ctx, func(tx *store.Tx) error {
		return e.audit(ctx, tx, who, "action.excepted", target.String(), map[string]any{
			"action": actionName, "target": target, "reason": reason, "ticket": ticket, "exception": excepted})
	})
	if err != nil {
		e.cfg.Logger.Error("audit a request refused by an exception", "target", target.String(), "err", err)
	}
	return fmt.Errorf("request %s on %s: the target is %s, so nothing was done; if the action must go ahead, an administrator overrides the exception (override_exceptions in the request) or revokes it: %w",
		actionName, target, excepted, ErrExcepted)
}

// exceptedTarget says which exception, if any, leaves a self-service request's target
// alone: those that apply to every playbook do.
func (e *Engine) exceptedTarget(target action.Target) string {
	r := event.Resource{Kind: target.Kind, ID: target.ID, ARN: target.ARN, Account: target.Account, Region: target.Region, Tags: target.Tags}
	excepted, _ := e.decider.Load().EntryException(SelfService, &r)
	return excepted
}

// exceptionFor names what an exception is for, in messages.
func exceptionFor(x *store.Exception) string {
	if x.Account != "" {
		return "account " + x.Account
	}
	return "resource " + x.Resource
}

func newExceptionID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("name the exception: %w", err)
	}
	return "exc-" + hex.EncodeToString(b), nil
}

// dedupe keeps the first of each name, in order.
func dedupe(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
