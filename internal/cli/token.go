package cli

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/config"
	"github.com/firebreak-sec/firebreak/internal/input"
)

func newTokenCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens for the /v1 API",
	}
	var o tokenOptions
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token and print it",
		Long: `Create makes a new API token for the /v1 API, stores only its SHA-256 with its role,
account scope and expiry, records the creation in the audit chain, and prints the token on
standard output, and nothing else there: it is shown this once and cannot be recovered.
Its id, role, scope and expiry go to standard error.

Roles, each allowing what the ones before it do: viewer reads incidents; responder
requests actions, releases and closes incidents; approver approves and denies steps;
admin manages tokens and exceptions. --accounts limits the token to those accounts
(default: every account). --clearance lets it see the incidents of playbooks labelled
with those sensitivities (metadata.labels.sensitivity; compared lower-cased), which are
hidden from tokens without it; an admin token sees every label regardless. --expires
takes a duration such as 12h or 30d (default: never).`,
		Example: `  firebreak token create --role responder --accounts 111122223333 --expires 30d --data-dir data
  firebreak token create --role viewer --clearance restricted,legal --data-dir data
  TOKEN=$(firebreak token create --role viewer --database postgres://firebreak@db/firebreak)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenCreate(cmd.Context(), s, &o, cmd.Flags())
		},
	}
	f := create.Flags()
	f.StringVar(&o.role, "role", "", "viewer, responder, approver or admin (required)")
	f.StringVar(&o.accounts, "accounts", "", "comma-separated account ids the token may act in (default: every account)")
	f.StringVar(&o.clearance, "clearance", "", "comma-separated sensitivity labels the token may see, such as restricted (default: none)")
	f.StringVar(&o.expires, "expires", "", "how long the token works, such as 12h or 30d (default: it does not expire)")
	addStoreFlags(f)
	cmd.AddCommand(create)
	return cmd
}

type tokenOptions struct {
	role, accounts, clearance, expires string
}

func runTokenCreate(ctx context.Context, s *streams, o *tokenOptions, flags *pflag.FlagSet) error {
	if o.role == "" {
		return usageErr("--role is required: viewer, responder, approver or admin")
	}
	role, err := auth.ParseRole(o.role)
	if err != nil {
		return usageErr("--role: %v", err)
	}
	var accounts []string
	for a := range strings.SplitSeq(o.accounts, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if !input.Account(a) {
			return usageErr("--accounts: %q is not a 12-digit AWS account id", a)
		}
		accounts = append(accounts, a)
	}
	var labels []string
	if o.clearance != "" {
		labels = strings.Split(o.clearance, ",")
	}
	clearance, err := auth.ParseClearance(labels)
	if err != nil {
		return usageErr("--clearance: %v; give labels separated by commas, such as restricted,legal", err)
	}
	var ttl time.Duration
	if o.expires != "" {
		if ttl, err = parseExpiry(o.expires); err != nil {
			return usageErr("--expires: %v", err)
		}
	}
	cfg, err := config.Resolve(flags, os.LookupEnv)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	// A token may be made before the server first starts (to hand to the first
	// responders), so the store is created and migrated as serve would.
	st, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return usageErr("database %s: %v; check that it is reachable and writable", storeName(cfg), err)
	}
	tok, rec, err := auth.Issue(ctx, st, auth.IssueOptions{Role: role, Accounts: accounts, Clearance: clearance, TTL: ttl, By: cliActor()})
	if err != nil {
		return &exitError{code: ExitRejected, err: fmt.Errorf("create the token in %s: %w", storeName(cfg), err)}
	}
	fmt.Fprintln(s.out, tok)
	scope, expiry, cleared := "every account", "never", "cleared for no sensitivity label"
	if len(rec.Accounts) > 0 {
		scope = "accounts " + strings.Join(rec.Accounts, ", ")
	}
	if !rec.Expires.IsZero() {
		expiry = rec.Expires.Format(time.RFC3339)
	}
	switch {
	case role == auth.Admin:
		cleared = "cleared for every sensitivity label"
	case len(rec.Clearance) > 0:
		cleared = "cleared for " + strings.Join(rec.Clearance, ", ")
	}
	fmt.Fprintf(s.err, "created token %s: role %s, %s, %s, expires %s; it is shown only this once\n", rec.ID, rec.Role, scope, cleared, expiry)
	return nil
}

// parseExpiry reads a Go duration, or a whole number of days such as 30d, which Go's
// durations lack and token lifetimes are usually given in.
func parseExpiry(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("%q is not a number of days from 1 to 3650", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a duration such as 12h or 30d", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	return d, nil
}

// cliActor names whoever ran the command, for the audit record of the creation.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}
