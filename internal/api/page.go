package api

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/firebreak-sec/firebreak/internal/store"
)

// pageFilter selects one page of incidents. store.Filter has neither a cursor nor a set of
// accounts, which a scoped caller's list needs, so the page is read here with the store's
// transactions and placeholders.
type pageFilter struct {
	State, Account, Playbook string
	// Accounts, when set, keeps incidents in these accounts only (the caller's scope).
	Accounts []string
	// Clearance are the sensitivity labels the caller may see; unlabelled incidents are
	// always kept. AllLabels keeps every incident, whatever its label (an administrator's
	// list).
	Clearance []string
	AllLabels bool
	// After is where the previous page ended; nil for the first page.
	After *cursor
	Limit int
}

// listPage returns up to f.Limit incidents, newest first (ties broken by id, so that the
// order, and so the cursor, is total), and whether more follow.
func listPage(ctx context.Context, s *store.Store, f pageFilter) ([]IncidentSummary, bool, error) {
	q := `SELECT id, playbook, state, sensitivity, target, requested_by, created_at, updated_at FROM incidents WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, val string }{{"state", f.State}, {"playbook", f.Playbook}, {"target_account", f.Account}} {
		if c.val != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.val)
		}
	}
	if len(f.Accounts) > 0 {
		q += ` AND target_account IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(f.Accounts)), ", ") + `)`
		for _, a := range f.Accounts {
			args = append(args, a)
		}
	}
	// Filtered in the query, not after it, so that a page is filled from what the caller
	// may see and its length reveals nothing about what they may not.
	if !f.AllLabels {
		q += ` AND (sensitivity IS NULL OR sensitivity = ''`
		for _, l := range f.Clearance {
			q += ` OR sensitivity = ?`
			args = append(args, l)
		}
		q += `)`
	}
	if f.After != nil {
		after := f.After.Created.UTC()
		q += ` AND (created_at < ? OR (created_at = ? AND id < ?))`
		args = append(args, after, after, f.After.ID)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, f.Limit+1)
	out := []IncidentSummary{}
	err := s.Read(ctx, func(tx *store.Tx) error {
		return tx.Query(ctx, q, func(row store.Row) error {
			var (
				inc    IncidentSummary
				sens   sql.NullString
				target string
			)
			if err := row.Scan(&inc.ID, &inc.Playbook, &inc.State, &sens, &target, &inc.RequestedBy, &inc.Created, &inc.Updated); err != nil {
				return err
			}
			inc.Sensitivity = sens.String
			if err := json.Unmarshal([]byte(target), &inc.Target); err != nil {
				return fmt.Errorf("incident %s: stored target is unreadable: %w", inc.ID, err)
			}
			inc.Created, inc.Updated = inc.Created.UTC(), inc.Updated.UTC()
			out = append(out, inc)
			return nil
		}, args...)
	})
	if err != nil {
		return nil, false, fmt.Errorf("list incidents: %w", err)
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}
