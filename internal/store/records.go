package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// EventRecord is an accepted event as stored.
type EventRecord struct {
	ID string
	// FindingID and FindingUpdated identify a finding across deliveries: the same finding
	// at the same update time is the same event whatever envelope carried it.
	FindingID      string
	FindingUpdated string
	Source         string
	Type           string
	Account        string
	Region         string
	Time           time.Time
	ReceivedAt     time.Time
	// Via names the intake that delivered the event (http, sqs, file, ...).
	Via        string
	Normalised json.RawMessage
	Raw        json.RawMessage
}

// NewEventRecord describes ev for storage.
func NewEventRecord(ev *event.Event, via string, received time.Time) (EventRecord, error) {
	norm, err := json.Marshal(ev)
	if err != nil {
		return EventRecord{}, fmt.Errorf("event %s: encode: %w", ev.ID, err)
	}
	r := EventRecord{ID: ev.ID, FindingID: ev.FindingID, Source: string(ev.Source), Type: ev.Type,
		Account: ev.Account, Region: ev.Region, Time: ev.Time, ReceivedAt: received, Via: via,
		Normalised: norm, Raw: ev.Raw}
	if ev.UpdatedAt != nil {
		r.FindingUpdated = ev.UpdatedAt.UTC().Format(time.RFC3339Nano)
	}
	if len(r.Raw) == 0 {
		r.Raw = json.RawMessage("null")
	}
	return r, nil
}

// InsertEvent stores r unless it is already stored, by event id or by finding id and update
// time; inserted is false for such a duplicate, and dupOf then names the stored event.
func (s *Store) InsertEvent(ctx context.Context, tx *Tx, r EventRecord) (inserted bool, dupOf string, err error) {
	var findingID, findingUpdated sql.NullString
	if r.FindingID != "" {
		findingID = sql.NullString{String: r.FindingID, Valid: true}
		findingUpdated = sql.NullString{String: r.FindingUpdated, Valid: true}
	}
	n, err := tx.Exec(ctx, `INSERT INTO events (id, finding_id, finding_updated_at, source, type, account, region,
			event_time, received_at, via, normalised, raw)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.ID, findingID, findingUpdated, r.Source, r.Type, r.Account, r.Region,
		nullTime(r.Time), stamp(r.ReceivedAt), r.Via, string(r.Normalised), string(r.Raw))
	if err != nil {
		return false, "", fmt.Errorf("store event %s: %w", r.ID, err)
	}
	if n == 1 {
		return true, "", nil
	}
	err = tx.QueryRow(ctx, `SELECT id FROM events WHERE id = ? OR (finding_id = ? AND finding_updated_at = ?) LIMIT 1`,
		r.ID, findingID, findingUpdated).Scan(&dupOf)
	if err != nil {
		return false, "", fmt.Errorf("store event %s: find the event it duplicates: %w", r.ID, err)
	}
	return false, dupOf, nil
}

// Event returns a stored event's normalised form.
func (s *Store) Event(ctx context.Context, tx *Tx, id string) (*event.Event, error) {
	var norm string
	if err := tx.QueryRow(ctx, `SELECT normalised FROM events WHERE id = ?`, id).Scan(&norm); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("event %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("event %s: %w", id, err)
	}
	var ev event.Event
	if err := json.Unmarshal([]byte(norm), &ev); err != nil {
		return nil, fmt.Errorf("event %s: stored form is unreadable: %w", id, err)
	}
	return &ev, nil
}

// Incident states (CONTRACTS §5).
const (
	StateOpen             = "open"
	StateAwaitingApproval = "awaiting-approval"
	StateContaining       = "containing"
	StateContained        = "contained"
	StateFailed           = "failed"
	StateReleasing        = "releasing"
	StateReleased         = "released"
	StateClosed           = "closed"
)

// Step statuses beyond run's (done, already-done, failed, skipped, not-run).
const (
	StepPending = "pending" // not yet run; waiting for its turn, a job or an approval
	StepRunning = "running" // a worker has started it
)

// Approval states of a step.
const (
	ApprovalNone     = ""
	ApprovalRequired = "required"
	ApprovalApproved = "approved"
	ApprovalDenied   = "denied"
)

// Incident is one playbook's response to one target.
type Incident struct {
	ID       string        `json:"id"`
	Playbook string        `json:"playbook"`
	Target   action.Target `json:"target"`
	State    string        `json:"state"`
	// Sensitivity labels an incident whose details only some responders may see; empty
	// when unlabelled.
	Sensitivity string `json:"sensitivity,omitempty"`
	// RequestedBy is who asked for the response: the intake for a detector's event, the
	// caller for a self-service request. Nobody approves their own request.
	RequestedBy string          `json:"requested_by"`
	EventID     string          `json:"event"`
	Decision    json.RawMessage `json:"decision"`
	// JoinKey is the playbook and target; a later event with the same key joins the
	// incident until JoinUntil.
	JoinKey   string    `json:"-"`
	JoinUntil time.Time `json:"join_until"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Events    []string  `json:"events"`
	Steps     []Step    `json:"steps"`
}

// Step is one step of an incident, as planned and as it went.
type Step struct {
	Index           int               `json:"index"`
	Action          string            `json:"action"`
	With            map[string]any    `json:"with,omitempty"`
	ContinueOnError bool              `json:"continue_on_error,omitempty"`
	Status          string            `json:"status"`
	Reason          string            `json:"reason,omitempty"`
	Class           string            `json:"class,omitempty"`
	Message         string            `json:"message,omitempty"`
	Attempts        int               `json:"attempts,omitempty"`
	Prior           json.RawMessage   `json:"prior,omitempty"`
	Evidence        []action.Evidence `json:"evidence,omitempty"`
	RequestIDs      []string          `json:"request_ids,omitempty"`
	Reversible      bool              `json:"reversible,omitempty"`
	Started         time.Time         `json:"started,omitzero"`
	Finished        time.Time         `json:"finished,omitzero"`
	Approval        string            `json:"approval,omitempty"`
	ApprovalReason  string            `json:"approval_reason,omitempty"`
	Approver        string            `json:"approver,omitempty"`
	ApprovalComment string            `json:"approval_comment,omitempty"`
	Approved        time.Time         `json:"approved,omitzero"`
	ReleaseStatus   string            `json:"release_status,omitempty"`
	ReleaseReason   string            `json:"release_reason,omitempty"`
	Released        time.Time         `json:"released,omitzero"`
}

// JoinKey is the key incidents are joined by: one incident per playbook and target.
func JoinKey(playbook string, t action.Target) string {
	return strings.Join([]string{playbook, t.Account, t.Region, string(t.Kind), t.ID}, "|")
}

// CreateIncident stores a new incident, its steps, and its link to the event that opened it.
// The statements go together, in one round trip on PostgreSQL: none needs another's result.
func (s *Store) CreateIncident(ctx context.Context, tx *Tx, inc *Incident) error {
	target, err := json.Marshal(inc.Target)
	if err != nil {
		return fmt.Errorf("incident %s: encode target: %w", inc.ID, err)
	}
	var sens sql.NullString
	if inc.Sensitivity != "" {
		sens = sql.NullString{String: inc.Sensitivity, Valid: true}
	}
	stmts := make([]stmt, 0, 3+len(inc.Steps))
	stmts = append(stmts, stmt{
		q: `INSERT INTO incidents (id, playbook, target_kind, target_id, target_account, target_region, target,
			state, sensitivity, requested_by, event_id, decision, join_key, join_until, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		args: []any{inc.ID, inc.Playbook, string(inc.Target.Kind), inc.Target.ID, inc.Target.Account, inc.Target.Region, string(target),
			inc.State, sens, inc.RequestedBy, inc.EventID, string(inc.Decision), inc.JoinKey, stamp(inc.JoinUntil),
			stamp(inc.Created), stamp(inc.Created)},
		what: fmt.Sprintf("incident %s: store", inc.ID)})
	stmts = append(stmts, linkEvent(inc.ID, inc.EventID, inc.Created, inc.JoinUntil)...)
	for i := range inc.Steps {
		st := &inc.Steps[i]
		with, err := json.Marshal(st.With)
		if err != nil {
			return fmt.Errorf("incident %s step %d: encode parameters: %w", inc.ID, st.Index, err)
		}
		stmts = append(stmts, stmt{
			q: `INSERT INTO steps (incident_id, idx, action, params, continue_on_error, status, reason,
				class, message, attempts, prior, evidence, request_ids, reversible, approval, approval_reason,
				approver, approval_comment, release_status, release_reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, '', '', 0, NULL, '[]', '[]', ?, ?, ?, '', '', '', '')`,
			args: []any{inc.ID, st.Index, st.Action, string(with), st.ContinueOnError, st.Status, st.Reason,
				st.Reversible, st.Approval, st.ApprovalReason},
			what: fmt.Sprintf("incident %s step %d: store", inc.ID, st.Index)})
	}
	return tx.execAll(ctx, stmts)
}

// LinkEvent records that an event belongs to an incident and extends the incident's join
// window to joinUntil.
func (s *Store) LinkEvent(ctx context.Context, tx *Tx, incident, eventID string, at, joinUntil time.Time) error {
	return tx.execAll(ctx, linkEvent(incident, eventID, at, joinUntil))
}

func linkEvent(incident, eventID string, at, joinUntil time.Time) []stmt {
	return []stmt{{
		q: `INSERT INTO incident_events (incident_id, event_id, joined_at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`,
		args: []any{incident, eventID, stamp(at)},
		what: fmt.Sprintf("incident %s: link event %s", incident, eventID),
	}, {
		q:    `UPDATE incidents SET join_until = ?, updated_at = ? WHERE id = ? AND join_until < ?`,
		args: []any{stamp(joinUntil), stamp(at), incident, stamp(joinUntil)},
		what: fmt.Sprintf("incident %s: extend join window", incident),
	}}
}

// JoinableIncident returns the newest incident with key whose join window is still open at
// `at` and whose state is one of states; ErrNotFound when there is none.
func (s *Store) JoinableIncident(ctx context.Context, tx *Tx, key string, at time.Time, states []string) (string, error) {
	q := `SELECT id FROM incidents WHERE join_key = ? AND join_until >= ? AND state IN (` +
		strings.TrimSuffix(strings.Repeat("?, ", len(states)), ", ") + `) ORDER BY created_at DESC LIMIT 1`
	args := []any{key, stamp(at)}
	for _, st := range states {
		args = append(args, st)
	}
	var id string
	if err := tx.QueryRow(ctx, q, args...).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", ErrNotFound
		}
		return "", fmt.Errorf("look up an open incident for %s: %w", key, err)
	}
	return id, nil
}

const incidentColumns = `id, playbook, target, state, sensitivity, requested_by, event_id, decision, join_key,
	join_until, created_at, updated_at`

func scanIncident(row Row) (*Incident, error) {
	var inc Incident
	var target, decision string
	var sens sql.NullString
	if err := row.Scan(&inc.ID, &inc.Playbook, &target, &inc.State, &sens, &inc.RequestedBy, &inc.EventID,
		&decision, &inc.JoinKey, &inc.JoinUntil, &inc.Created, &inc.Updated); err != nil {
		return nil, err
	}
	inc.Sensitivity, inc.Decision = sens.String, json.RawMessage(decision)
	if err := json.Unmarshal([]byte(target), &inc.Target); err != nil {
		return nil, fmt.Errorf("incident %s: stored target is unreadable: %w", inc.ID, err)
	}
	inc.JoinUntil, inc.Created, inc.Updated = inc.JoinUntil.UTC(), inc.Created.UTC(), inc.Updated.UTC()
	return &inc, nil
}

// Incident returns an incident with its steps and events.
func (s *Store) Incident(ctx context.Context, tx *Tx, id string) (*Incident, error) {
	inc, err := scanIncident(tx.QueryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("incident %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	inc.Events = []string{}
	err = tx.Query(ctx, `SELECT event_id FROM incident_events WHERE incident_id = ? ORDER BY joined_at, event_id`,
		func(row Row) error {
			var e string
			if err := row.Scan(&e); err != nil {
				return err
			}
			inc.Events = append(inc.Events, e)
			return nil
		}, id)
	if err != nil {
		return nil, fmt.Errorf("incident %s: events: %w", id, err)
	}
	inc.Steps = []Step{}
	err = tx.Query(ctx, `SELECT idx, action, params, continue_on_error, status, reason, class, message, attempts,
			prior, evidence, request_ids, reversible, started_at, finished_at, approval, approval_reason, approver,
			approval_comment, approved_at, release_status, release_reason, released_at
		FROM steps WHERE incident_id = ? ORDER BY idx`, func(row Row) error {
		var st Step
		var with, evidence, requestIDs string
		var prior sql.NullString
		var started, finished, approved, released sql.NullTime
		if err := row.Scan(&st.Index, &st.Action, &with, &st.ContinueOnError, &st.Status, &st.Reason, &st.Class,
			&st.Message, &st.Attempts, &prior, &evidence, &requestIDs, &st.Reversible, &started, &finished,
			&st.Approval, &st.ApprovalReason, &st.Approver, &st.ApprovalComment, &approved, &st.ReleaseStatus,
			&st.ReleaseReason, &released); err != nil {
			return err
		}
		if prior.Valid {
			st.Prior = json.RawMessage(prior.String)
		}
		st.Started, st.Finished, st.Approved, st.Released = utc(started), utc(finished), utc(approved), utc(released)
		for _, f := range []struct {
			src string
			dst any
		}{{with, &st.With}, {evidence, &st.Evidence}, {requestIDs, &st.RequestIDs}} {
			if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
				return fmt.Errorf("step %d: stored record is unreadable: %w", st.Index, err)
			}
		}
		inc.Steps = append(inc.Steps, st)
		return nil
	}, id)
	if err != nil {
		return nil, fmt.Errorf("incident %s: steps: %w", id, err)
	}
	return inc, nil
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// SetState moves an incident to state.
func (s *Store) SetState(ctx context.Context, tx *Tx, id, state string, at time.Time) error {
	n, err := tx.Exec(ctx, `UPDATE incidents SET state = ?, updated_at = ? WHERE id = ?`, state, stamp(at), id)
	if err != nil {
		return fmt.Errorf("incident %s: set state %s: %w", id, state, err)
	}
	if n == 0 {
		return fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	return nil
}

// UpdateStep stores everything about a step that changes as it runs, is approved or is
// released.
func (s *Store) UpdateStep(ctx context.Context, tx *Tx, incident string, st *Step) error {
	evidence, err := json.Marshal(nonNil(st.Evidence))
	if err != nil {
		return fmt.Errorf("incident %s step %d: encode evidence: %w", incident, st.Index, err)
	}
	requestIDs, err := json.Marshal(nonNil(st.RequestIDs))
	if err != nil {
		return fmt.Errorf("incident %s step %d: encode request ids: %w", incident, st.Index, err)
	}
	var prior sql.NullString
	if len(st.Prior) > 0 {
		prior = sql.NullString{String: string(st.Prior), Valid: true}
	}
	n, err := tx.Exec(ctx, `UPDATE steps SET status = ?, reason = ?, class = ?, message = ?, attempts = ?, prior = ?,
			evidence = ?, request_ids = ?, reversible = ?, started_at = ?, finished_at = ?, approval = ?,
			approval_reason = ?, approver = ?, approval_comment = ?, approved_at = ?, release_status = ?,
			release_reason = ?, released_at = ?
		WHERE incident_id = ? AND idx = ?`,
		st.Status, st.Reason, st.Class, st.Message, st.Attempts, prior, string(evidence), string(requestIDs),
		st.Reversible, nullTime(st.Started), nullTime(st.Finished), st.Approval, st.ApprovalReason, st.Approver,
		st.ApprovalComment, nullTime(st.Approved), st.ReleaseStatus, st.ReleaseReason, nullTime(st.Released),
		incident, st.Index)
	if err != nil {
		return fmt.Errorf("incident %s step %d: store: %w", incident, st.Index, err)
	}
	if n == 0 {
		return fmt.Errorf("incident %s step %d: %w", incident, st.Index, ErrNotFound)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Filter selects incidents for List. Empty fields match everything.
type Filter struct {
	State    string
	Playbook string
	Account  string
	// Since keeps incidents created at or after it.
	Since time.Time
	// Limit caps the number returned, newest first; 100 when zero.
	Limit int
	// ByClearance keeps only the unlabelled incidents and those whose sensitivity is one
	// of Clearance, so that a list is filled from what its reader may see; false keeps
	// every incident whatever its label. A flag rather than a nil Clearance, so that
	// nobody is shown everything by forgetting to fill a list.
	ByClearance bool
	Clearance   []string
}

// ListIncidents returns incidents matching f, newest first, without their steps and events.
func (s *Store) ListIncidents(ctx context.Context, tx *Tx, f Filter) ([]*Incident, error) {
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, val string }{{"state", f.State}, {"playbook", f.Playbook}, {"target_account", f.Account}} {
		if c.val != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.val)
		}
	}
	if !f.Since.IsZero() {
		q += ` AND created_at >= ?`
		args = append(args, stamp(f.Since))
	}
	if f.ByClearance {
		q += ` AND (sensitivity IS NULL OR sensitivity = ''`
		for _, l := range f.Clearance {
			q += ` OR sensitivity = ?`
			args = append(args, l)
		}
		q += `)`
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id LIMIT %d`, limit)
	out := []*Incident{}
	err := tx.Query(ctx, q, func(row Row) error {
		inc, err := scanIncident(row)
		if err != nil {
			return err
		}
		out = append(out, inc)
		return nil
	}, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// Recent is an incident opened within a breaker's window, as the breaker counts it.
type Recent struct {
	Playbook string
	Account  string
}

// RecentIncidents returns the playbook and target account of every incident created at or
// after since.
func (s *Store) RecentIncidents(ctx context.Context, tx *Tx, since time.Time) ([]Recent, error) {
	var out []Recent
	err := tx.Query(ctx, `SELECT playbook, target_account FROM incidents WHERE created_at >= ?`, func(row Row) error {
		var r Recent
		if err := row.Scan(&r.Playbook, &r.Account); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, stamp(since))
	if err != nil {
		return nil, fmt.Errorf("count recent incidents: %w", err)
	}
	return out, nil
}

// RecentCounts is what a breaker counts of the incidents created within its window.
type RecentCounts struct {
	Total      int
	ByPlaybook map[string]int
	// Accounts is the number of distinct target accounts.
	Accounts int
}

// CountRecentIncidents counts the incidents created at or after since, per playbook and
// in all, and the distinct accounts they act in, in SQL over the index on created_at: the
// window may hold thousands of incidents, and the breaker needs only their numbers.
// accounts says whether to count the accounts, which costs a second query.
func (s *Store) CountRecentIncidents(ctx context.Context, tx *Tx, since time.Time, accounts bool) (RecentCounts, error) {
	c := RecentCounts{ByPlaybook: map[string]int{}}
	err := tx.Query(ctx, `SELECT playbook, COUNT(*) FROM incidents WHERE created_at >= ? GROUP BY playbook`,
		func(row Row) error {
			var pb string
			var n int
			if err := row.Scan(&pb, &n); err != nil {
				return err
			}
			c.ByPlaybook[pb] = n
			c.Total += n
			return nil
		}, stamp(since))
	if err != nil {
		return RecentCounts{}, fmt.Errorf("count recent incidents: %w", err)
	}
	if accounts {
		err = tx.QueryRow(ctx, `SELECT COUNT(DISTINCT target_account) FROM incidents WHERE created_at >= ?`,
			stamp(since)).Scan(&c.Accounts)
		if err != nil {
			return RecentCounts{}, fmt.Errorf("count recent incidents' accounts: %w", err)
		}
	}
	return c, nil
}

// RecentInAccount says whether an incident created at or after since acts in account.
func (s *Store) RecentInAccount(ctx context.Context, tx *Tx, since time.Time, account string) (bool, error) {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM incidents WHERE created_at >= ? AND target_account = ? LIMIT 1`,
		stamp(since), account).Scan(&one)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	default:
		return false, fmt.Errorf("look up recent incidents in account %s: %w", account, err)
	}
}
