// Package decide turns an event into decisions: for every playbook whose pattern matches,
// and every target resource of the playbook's kind in the event, whether Firebreak will
// act (and with which steps), wait for approval, only report, or leave it alone and why.
// Deciding has no side effects; `replay` prints decisions and the executor carries them out.
package decide

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
)

// Outcome is what a decision (or a step) comes to.
type Outcome string

// Outcomes (CONTRACTS §3).
const (
	Planned       Outcome = "planned"
	DryRun        Outcome = "dry-run"
	NeedsApproval Outcome = "needs-approval"
	Excepted      Outcome = "excepted"
	Skipped       Outcome = "skipped"
)

// Decision is one playbook's verdict on one target resource.
type Decision struct {
	Playbook string  `json:"playbook"`
	Outcome  Outcome `json:"outcome"`
	Reason   string  `json:"reason"`
	Target   Target  `json:"target"`
	Steps    []Step  `json:"steps"`
}

// Target is the resource a decision is about, with the tags it was judged by.
type Target struct {
	Kind    event.Kind        `json:"kind"`
	ID      string            `json:"id"`
	Account string            `json:"account,omitempty"`
	Region  string            `json:"region,omitempty"`
	ARN     string            `json:"arn,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"`
}

// Step is one playbook step as decided for a target.
type Step struct {
	Action string `json:"action"`
	// With is the step's parameters, defaults filled in; shared with the playbook and
	// read-only.
	With    map[string]any `json:"with,omitempty"`
	Outcome Outcome        `json:"outcome"`
	Reason  string         `json:"reason,omitempty"`
	// Step is the playbook step this came from (name, continue_on_error, the action's
	// declaration), for the executor.
	Step *playbook.Step `json:"-"`
}

// AccountInfo is what the inventory knows about an account.
type AccountInfo struct {
	ID   string
	Name string
	Tags map[string]string
}

// Inventory is the current state of the organisation, as far as deciding needs it. The
// simulated organisation (--world) satisfies it, and so can a live tag lookup.
type Inventory interface {
	// ResourceTags returns the resource's current tags; ok is false when it is unknown.
	ResourceTags(account, region string, kind event.Kind, id string) (tags map[string]string, ok bool)
	// Account returns what is known about an account.
	Account(id string) (AccountInfo, bool)
}

// Options tune an Engine.
type Options struct {
	// Now is the clock exception expiry is judged by; time.Now when nil.
	Now func() time.Time

	// unindexed matches every event against every playbook, the reference the index is
	// tested against.
	unindexed bool
}

// Engine decides events against a fixed set of playbooks. It is safe for concurrent use.
type Engine struct {
	set *playbook.Set
	now func() time.Time
	// ix narrows the playbooks an event is matched against to those that could match it.
	// When it is nil, every playbook is tried, from all.
	ix  *index
	all []cand
	// runtime are the exceptions created at run time (SetExceptions), consulted after the
	// playbooks' own and the exceptions file's; nil when there are none.
	runtime atomic.Pointer[[]*playbook.ExceptionEntry]
}

// New builds an engine for set.
func New(set *playbook.Set, opts Options) *Engine {
	e := &Engine{set: set, now: opts.Now}
	if e.now == nil {
		e.now = time.Now
	}
	if opts.unindexed {
		e.all = make([]cand, len(set.Playbooks))
		for i, p := range set.Playbooks {
			e.all[i] = cand{i: i, on: p.On}
		}
	} else {
		e.ix = buildIndex(set)
	}
	return e
}

// candidates returns the playbooks that may match env, in index order, using buf when the
// index must merge lists. The result must not be modified.
func (e *Engine) candidates(env map[string]any, buf []cand) []cand {
	if e.ix == nil {
		return e.all
	}
	return e.ix.candidates(env, buf)
}

// Candidates returns how many playbooks' patterns Decide evaluates for ev: the index's
// measure of how well it narrows the library.
func (e *Engine) Candidates(ev *event.Event) int {
	var buf [64]cand
	return len(e.candidates(ev.Envelope, buf[:0]))
}

// Decide returns every decision for ev, ordered by playbook name then target id. inv may
// be nil, in which case the event's own tags are all there is.
//
// When the inventory knows a resource, its tags are merged over the event's, the
// inventory winning: the event is a snapshot from detection time, and a tag added since
// (an exception's change ticket, say) must count.
func (e *Engine) Decide(ctx context.Context, ev *event.Event, inv Inventory) []Decision {
	var out []Decision
	var buf [64]cand
	for _, c := range e.candidates(ev.Envelope, buf[:0]) {
		p := e.set.Playbooks[c.i]
		if p.On == nil || !c.on.Match(ev.Envelope) {
			continue
		}
		targets := Targets(ev, p.Target)
		if len(targets) == 0 {
			out = append(out, Decision{Playbook: p.Name, Outcome: Skipped, Reason: fmt.Sprintf("no %s in the event", p.Target),
				Target: Target{Kind: p.Target}, Steps: []Step{}})
			continue
		}
		for ti := range targets {
			out = append(out, e.decide(ctx, ev, p, &targets[ti], inv))
		}
	}
	if out == nil {
		out = []Decision{}
	}
	return out
}

func (e *Engine) decide(ctx context.Context, ev *event.Event, p *playbook.Playbook, r *event.Resource, inv Inventory) Decision {
	if r.Account == "" {
		r.Account = ev.Account
	}
	if r.Region == "" {
		r.Region = ev.Region
	}
	acct := &playbook.Account{ID: r.Account}
	if inv != nil {
		if tags, ok := inv.ResourceTags(r.Account, r.Region, r.Kind, r.ID); ok {
			r.Tags = mergeTags(r.Tags, tags)
		}
		if a, ok := inv.Account(r.Account); ok {
			acct.Name, acct.Tags = a.Name, a.Tags
		}
	}
	d := Decision{Playbook: p.Name, Steps: []Step{},
		Target: Target{Kind: r.Kind, ID: r.ID, Account: r.Account, Region: r.Region, ARN: r.ARN, Tags: r.Tags}}

	excepted, note := e.set.Exception(p, r, r.Account, e.now(), e.Exceptions()...)
	if excepted != "" {
		d.Outcome, d.Reason = Excepted, excepted
		return d
	}

	// Conditions see the event through vars, built only for a playbook that has one:
	// most decisions need none, and building them allocates.
	var vars *playbook.Vars
	if p.When != nil || slices.ContainsFunc(p.Steps, func(s *playbook.Step) bool { return s.If != nil }) {
		vars = playbook.NewVars(ev, r, acct, p)
	}
	if p.When != nil {
		ok, err := p.When.Eval(ctx, vars)
		if err != nil {
			d.Outcome, d.Reason = Skipped, fmt.Sprintf("when could not be evaluated (%v): %s", err, p.When.Source)
			return d
		}
		if !ok {
			d.Outcome, d.Reason = Skipped, "when is false: "+p.When.Source
			return d
		}
	}

	d.Steps = make([]Step, len(p.Steps))
	running, approval := 0, false
	for i, s := range p.Steps {
		st := Step{Action: s.Action, With: s.With, Step: s}
		if s.If != nil {
			ok, err := s.If.Eval(ctx, vars)
			if err != nil {
				// Fail closed: a step that cannot be judged could be the destructive one.
				d.Steps = []Step{}
				d.Outcome, d.Reason = Skipped, fmt.Sprintf("step %d (%s) if could not be evaluated (%v): %s", i+1, s.Action, err, s.If.Source)
				return d
			}
			if !ok {
				st.Outcome, st.Reason = Skipped, "if is false: "+s.If.Source
				d.Steps[i] = st
				continue
			}
		}
		running++
		switch {
		case p.Mode == playbook.ModeDryRun:
			st.Outcome = DryRun
		case p.Mode == playbook.ModeApprove || s.Approval:
			st.Outcome, approval = NeedsApproval, true
		default:
			st.Outcome = Planned
		}
		d.Steps[i] = st
	}
	switch {
	case running == 0:
		d.Outcome, d.Reason = Skipped, "no step's if is true"
	case p.Mode == playbook.ModeDryRun:
		d.Outcome, d.Reason = DryRun, "playbook is in dry-run mode"
	case approval:
		d.Outcome = NeedsApproval
		if p.Mode == playbook.ModeApprove {
			d.Reason = "playbook is in approve mode"
		} else {
			d.Reason = "a step requires approval"
		}
	default:
		d.Outcome = Planned
	}
	if note != "" {
		d.Reason = joinReason(note, d.Reason)
	}
	return d
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

func mergeTags(event, current map[string]string) map[string]string {
	if len(event) == 0 {
		return current
	}
	m := make(map[string]string, len(event)+len(current))
	for k, v := range event {
		m[k] = v
	}
	for k, v := range current {
		m[k] = v
	}
	return m
}

// Targets returns the resources of kind k that ev concerns, deduplicated by id and sorted
// by id. Besides the event's resources, IP targets come from the remote addresses seen on
// the wire, principals and access keys from the actor, and the account from the event.
func Targets(ev *event.Event, k event.Kind) []event.Resource {
	var out []event.Resource
	add := func(r event.Resource) {
		if r.ID == "" {
			return
		}
		for i := range out {
			if out[i].ID == r.ID {
				// Keep the richer record: the first may lack tags or an ARN.
				if out[i].ARN == "" {
					out[i].ARN = r.ARN
				}
				if len(out[i].Tags) == 0 {
					out[i].Tags = r.Tags
				}
				return
			}
		}
		out = append(out, r)
	}
	for _, r := range ev.Resources {
		if r.Kind == k {
			add(r)
		}
	}
	a := ev.Actor
	switch k {
	case event.KindIP:
		if ev.Network != nil {
			for _, ip := range ev.Network.RemoteIPs {
				add(event.Resource{Kind: k, ID: ip})
			}
		}
	case event.KindIAMUser:
		if a != nil && a.UserName != "" && (a.Type == "IAMUser" || a.Type == "") {
			add(event.Resource{Kind: k, ID: a.UserName, ARN: a.ARN, Account: a.Account})
		}
	case event.KindIAMRole:
		if a != nil && a.SessionIssuer != "" {
			add(event.Resource{Kind: k, ID: roleName(a.SessionIssuer), ARN: a.SessionIssuer, Account: a.Account})
		}
	case event.KindAccessKey:
		if a != nil && a.AccessKeyID != "" {
			add(event.Resource{Kind: k, ID: a.AccessKeyID, Account: a.Account})
		}
	case event.KindAccount:
		if ev.Account != "" {
			add(event.Resource{Kind: k, ID: ev.Account, Account: ev.Account})
		}
	}
	for i := range out {
		if out[i].Tags == nil {
			out[i].Tags = map[string]string{}
		}
	}
	slices.SortFunc(out, func(a, b event.Resource) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// roleName extracts the role name from a role ARN (arn:aws:iam::1:role/path/name).
func roleName(arn string) string {
	if i := strings.LastIndexByte(arn, '/'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// Enrich fills the event's resources with what the inventory knows: their current tags
// (merged over the event's, the inventory winning, as Decide does for targets). Replay
// calls it so that what it prints is what the playbooks saw. A nil inventory changes nothing.
func Enrich(ev *event.Event, inv Inventory) {
	if inv == nil {
		return
	}
	for i := range ev.Resources {
		r := &ev.Resources[i]
		account, region := r.Account, r.Region
		if account == "" {
			account = ev.Account
		}
		if region == "" {
			region = ev.Region
		}
		if tags, ok := inv.ResourceTags(account, region, r.Kind, r.ID); ok {
			r.Tags = mergeTags(r.Tags, tags)
		}
	}
}

// SetExceptions replaces the exceptions created at run time that decisions consult, after
// the playbooks' own and the exceptions file's, with the same meaning: an entry that has
// expired only adds a note to the decision. Decisions under way keep the list they began
// with. The engine keeps xs; the caller must not change it afterwards.
func (e *Engine) SetExceptions(xs []*playbook.ExceptionEntry) {
	e.runtime.Store(&xs)
}

// Exceptions returns the runtime exceptions SetExceptions last set; the result must not be
// modified.
func (e *Engine) Exceptions() []*playbook.ExceptionEntry {
	if xs := e.runtime.Load(); xs != nil {
		return *xs
	}
	return nil
}

// EntryException says whether the exceptions file or a runtime exception leaves resource
// alone for what the playbook called name would do; excepted names the exception, and note
// one that has expired (see playbook.Set.EntryException). The resource's account is its own.
func (e *Engine) EntryException(name string, r *event.Resource) (excepted, note string) {
	return e.set.EntryException(name, r, r.Account, e.now(), e.Exceptions()...)
}

// PlaybookNames returns the names of the playbooks the engine decides with, sorted.
func (e *Engine) PlaybookNames() []string {
	out := make([]string, len(e.set.Playbooks))
	for i, p := range e.set.Playbooks {
		out[i] = p.Name
	}
	return out
}

// Playbook returns the playbook called name in the set the engine decides with, or nil.
func (e *Engine) Playbook(name string) *playbook.Playbook {
	ps := e.set.Playbooks
	i := sort.Search(len(ps), func(i int) bool { return ps[i].Name >= name })
	if i < len(ps) && ps[i].Name == name {
		return ps[i]
	}
	return nil
}
