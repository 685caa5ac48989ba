package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/auth"
	"github.com/firebreak-sec/firebreak/internal/client"
	"github.com/firebreak-sec/firebreak/internal/store"
)

// The commands in this file call a running server's /v1 API as a responder. They find the
// server in FIREBREAK_ADDR and the token in FIREBREAK_TOKEN, else in the credentials that
// firebreak login saved.
const (
	addrEnv     = "FIREBREAK_ADDR"
	tokenEnv    = "FIREBREAK_TOKEN"
	defaultAddr = "http://127.0.0.1:8080"
)

// apiEnvHelp is appended to each API command's help.
const apiEnvHelp = `

The server is FIREBREAK_ADDR (default ` + defaultAddr + `, or the address saved by
firebreak login); the token is FIREBREAK_TOKEN, or the one saved by firebreak login.
Exit status: 0 done, 1 the API refused or failed (its reasons are printed), 2 usage or
configuration (no token, a bad address).`

// credentials are what firebreak login saves: the token and the server it was checked
// against, so that a token is never sent to a server other than the one it was saved for.
type credentials struct {
	Address string `json:"address"`
	Token   string `json:"token"`
}

// credentialsPath is where firebreak login saves the credentials.
func credentialsPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory to keep the token in (%v); set FIREBREAK_TOKEN instead", err)
	}
	return filepath.Join(dir, "firebreak", "credentials"), nil
}

// loadCredentials reads the saved credentials; ok is false when there are none.
func loadCredentials() (c credentials, path string, ok bool, err error) {
	if path, err = credentialsPath(); err != nil {
		return c, "", false, err
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, path, false, nil
	case err != nil:
		return c, path, false, err
	}
	if err := json.Unmarshal(data, &c); err != nil || c.Token == "" {
		return c, path, false, fmt.Errorf("%s is not a credentials file firebreak login wrote; run firebreak login again", path)
	}
	return c, path, true, nil
}

// saveCredentials writes the credentials readable by their owner alone, through a
// temporary file, so that an interrupted login leaves the previous ones whole.
func saveCredentials(path string, c credentials) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(c, "", "  ") // credentials always marshal
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// serverAddr is FIREBREAK_ADDR, else the saved address, else the default.
func serverAddr(saved credentials, haveSaved bool) string {
	if a := strings.TrimSpace(os.Getenv(addrEnv)); a != "" {
		return a
	}
	if haveSaved && saved.Address != "" {
		return saved.Address
	}
	return defaultAddr
}

// connect builds the API client from the environment and the saved credentials.
func connect() (*client.Client, error) {
	saved, path, haveSaved, err := loadCredentials()
	if err != nil && os.Getenv(tokenEnv) == "" {
		return nil, usageErr("%v", err)
	}
	addr := serverAddr(saved, haveSaved)
	u, err := client.ParseAddr(addr)
	if err != nil {
		return nil, usageErr("%s: %v", addrEnv, err)
	}
	token := strings.TrimSpace(os.Getenv(tokenEnv))
	if token == "" {
		switch {
		case !haveSaved:
			return nil, usageErr("no token: set %s, or run firebreak login with a token from firebreak token create", tokenEnv)
		case !sameServer(saved.Address, u.String()):
			return nil, usageErr("the token in %s is for %s, not %s; run firebreak login for this server or set %s", path, saved.Address, u, tokenEnv)
		}
		token = saved.Token
	}
	return client.New(u.String(), token, nil)
}

func sameServer(a, b string) bool {
	ua, errA := client.ParseAddr(a)
	ub, errB := client.ParseAddr(b)
	return errA == nil && errB == nil && ua.String() == ub.String()
}

// apiFailure prints why a call failed and returns the exit status: ExitRejected for
// anything the server answered or could not be reached for, after the reasons are shown.
func apiFailure(s *streams, c *client.Client, err error) error {
	e, ok := client.AsError(err)
	if !ok {
		if errors.Is(err, context.Canceled) {
			return &exitError{code: ExitRejected, err: err}
		}
		return &exitError{code: ExitRejected, err: fmt.Errorf("%v\n(is the server at %s running? it is set by %s)", err, c.Addr(), addrEnv)}
	}
	printProblem(s.err, e)
	return &exitError{code: ExitRejected}
}

// printProblem writes a problem document for a person: its detail, each invalid field as
// field: reason, and what to do about the statuses that have one remedy.
func printProblem(w io.Writer, e *client.Error) {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	fmt.Fprintf(w, "firebreak: %s (%d %s)\n", msg, e.Status, e.Title)
	for _, p := range e.InvalidParams {
		fmt.Fprintf(w, "  %s: %s\n", p.Name, p.Reason)
	}
	switch e.Status {
	case http.StatusUnauthorized:
		fmt.Fprintf(w, "Run firebreak login with a valid token (from firebreak token create), or set %s.\n", tokenEnv)
	case http.StatusForbidden:
		// The API's detail names the role or account that is missing; this says who to ask.
		fmt.Fprintln(w, "Your token's role or accounts do not allow this; ask an administrator for a token that does.")
	}
	if e.RequestID != "" {
		fmt.Fprintf(w, "request id %s\n", e.RequestID)
	}
}

// outputFlag adds --output, table or json.
func outputFlag(f *pflag.FlagSet, dst *string) {
	f.StringVarP(dst, "output", "o", "table", "table for people, json for scripts")
}

func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return usageErr("--output %q: use table or json", o)
	}
	return nil
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// newLoginCmd is firebreak login.
func newLoginCmd(s *streams) *cobra.Command {
	var token string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Check an API token with the server and save it for the other commands",
		Long: `Login checks a Firebreak API token (from firebreak token create) against the server,
and saves it with the server's address, readable only by you, in your configuration
directory (firebreak/credentials), where the other API commands find it.

The token is --token, or else the first line of standard input, so that it need not
appear in the shell's history: firebreak login < token.txt. Signing in through an OIDC
provider (device flow) is not supported: use an API token.` + apiEnvHelp,
		Example: `  firebreak token create --role responder | firebreak login
  FIREBREAK_ADDR=https://firebreak.example.com firebreak login --token fbk_...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLogin(cmd.Context(), s, token)
		},
	}
	cmd.Flags().StringVar(&token, "token", "", "the API token (default: read from standard input)")
	return cmd
}

func runLogin(ctx context.Context, s *streams, token string) error {
	if token == "" {
		if f, ok := s.in.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				// Typed or pasted at a terminal, where a silent wait would look like a hang.
				fmt.Fprint(s.err, "Paste the API token and press Enter: ")
			}
		}
		line, err := bufio.NewReader(s.in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return usageErr("read the token from standard input: %v", err)
		}
		token = line
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return usageErr("no token: give --token TOKEN or the token on standard input")
	}
	saved, path, haveSaved, err := loadCredentials()
	if path == "" {
		return usageErr("%v", err)
	}
	// A damaged credentials file is about to be replaced, so it is no reason to stop.
	addr := serverAddr(saved, haveSaved && err == nil)
	c, err := client.New(addr, token, nil)
	if err != nil {
		return usageErr("%s: %v", addrEnv, err)
	}
	if _, err := c.ListIncidents(ctx, client.ListOptions{Limit: 1}); err != nil {
		if e, ok := client.AsError(err); ok && e.Status == http.StatusUnauthorized {
			printProblem(s.err, e)
			return &exitError{code: ExitRejected, err: fmt.Errorf("%s refused the token; nothing was saved", c.Addr())}
		}
		return apiFailure(s, c, err)
	}
	if err := saveCredentials(path, credentials{Address: c.Addr(), Token: token}); err != nil {
		return usageErr("save the token: %v", err)
	}
	who := ""
	if strings.HasPrefix(token, auth.TokenPrefix) {
		// The API names a token's caller token:<id>, the id taken from the token's hash;
		// this is the name that approvals and the audit will show.
		who = " as token:tok-" + auth.HashToken(token)[:12]
	}
	fmt.Fprintf(s.out, "Logged in to %s%s; the token is saved in %s\n", c.Addr(), who, path)
	return nil
}

// newIncidentsCmd is firebreak incidents [list|show].
func newIncidentsCmd(s *streams) *cobra.Command {
	var lo listOptions
	cmd := &cobra.Command{
		Use:   "incidents",
		Short: "List incidents (the default) or show one",
		Long:  `Incidents lists incidents, newest first, or shows one with its steps.` + apiEnvHelp,
		Example: `  firebreak incidents --state awaiting-approval
  firebreak incidents list --account 111122223333 --output json
  firebreak incidents show inc-0123`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), s, &lo)
		},
	}
	lo.flags(cmd.Flags())
	var lo2 listOptions
	list := &cobra.Command{
		Use:   "list",
		Short: "List incidents, newest first",
		Long:  `List lists incidents, newest first, a page at a time.` + apiEnvHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), s, &lo2)
		},
	}
	lo2.flags(list.Flags())
	var output string
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its steps",
		Long:  `Show prints an incident with its steps, and how to approve a step that waits for a person.` + apiEnvHelp,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runShow(cmd.Context(), s, args[0], output)
		},
	}
	outputFlag(show.Flags(), &output)
	cmd.AddCommand(list, show)
	return cmd
}

type listOptions struct {
	client.ListOptions
	output string
}

func (o *listOptions) flags(f *pflag.FlagSet) {
	f.StringVar(&o.State, "state", "", "only incidents in this state (open, awaiting-approval, containing, contained, failed, releasing, released, closed)")
	f.StringVar(&o.Account, "account", "", "only incidents in this account")
	f.StringVar(&o.Playbook, "playbook", "", "only incidents of this playbook")
	f.IntVar(&o.Limit, "limit", 0, "at most this many incidents, 1 to 200 (default: the server's page size)")
	f.StringVar(&o.Cursor, "cursor", "", "the next page, as printed after the previous one")
	outputFlag(f, &o.output)
}

func runList(ctx context.Context, s *streams, o *listOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.Limit < 0 {
		return usageErr("--limit %d: give a number from 1 to 200", o.Limit)
	}
	c, err := connect()
	if err != nil {
		return err
	}
	list, err := c.ListIncidents(ctx, o.ListOptions)
	if err != nil {
		return apiFailure(s, c, err)
	}
	if o.output == "json" {
		return writeJSONOut(s.out, list)
	}
	if len(list.Incidents) == 0 {
		fmt.Fprintln(s.out, "No incidents.")
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPLAYBOOK\tTARGET\tREQUESTED BY\tUPDATED")
	for _, in := range list.Incidents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, in.State, in.Playbook, in.Target, in.RequestedBy, stamp(in.Updated))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if list.NextCursor != "" {
		// On standard error, so that the table stays the only thing on standard output.
		fmt.Fprintf(s.err, "More incidents: add --cursor %s\n", list.NextCursor)
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func runShow(ctx context.Context, s *streams, id, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	c, err := connect()
	if err != nil {
		return err
	}
	inc, err := c.GetIncident(ctx, id)
	if err != nil {
		return apiFailure(s, c, err)
	}
	if output == "json" {
		return writeJSONOut(s.out, inc)
	}
	return printIncident(s.out, inc)
}

// printIncident writes an incident for a person: what it is about, then its steps.
func printIncident(w io.Writer, inc *store.Incident) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Incident:\t%s\n", inc.ID)
	fmt.Fprintf(tw, "State:\t%s\n", inc.State)
	fmt.Fprintf(tw, "Playbook:\t%s\n", inc.Playbook)
	fmt.Fprintf(tw, "Target:\t%s\n", inc.Target)
	fmt.Fprintf(tw, "Requested by:\t%s\n", inc.RequestedBy)
	fmt.Fprintf(tw, "Created:\t%s\n", stamp(inc.Created))
	fmt.Fprintf(tw, "Updated:\t%s\n", stamp(inc.Updated))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(inc.Steps) == 0 {
		fmt.Fprintln(w, "\nNo steps.")
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tACTION\tSTATUS\tAPPROVAL\tNOTE")
	var waiting []int
	for _, st := range inc.Steps {
		approval := st.Approval
		if approval == "" {
			approval = "-"
		}
		if st.Approver != "" {
			approval += " by " + st.Approver
		}
		note := st.Message
		if note == "" {
			note = st.Reason
		}
		if st.ApprovalReason != "" && st.Approval == store.ApprovalRequired {
			note = st.ApprovalReason
		}
		if st.ReleaseStatus != "" {
			note = strings.TrimSpace(note + " (release: " + st.ReleaseStatus + ")")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", st.Index, st.Action, st.Status, approval, oneLine(note))
		if st.Approval == store.ApprovalRequired && st.Status == store.StepPending {
			waiting = append(waiting, st.Index)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range waiting {
		fmt.Fprintf(w, "\nStep %d waits for approval: firebreak approve %s %d, or firebreak deny %s %d\n", n, inc.ID, n, inc.ID, n)
	}
	return nil
}

// oneLine keeps a table row on one line whatever a step's message holds.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return s
}

// newApproveCmd is firebreak approve; newDenyCmd is firebreak deny.
func newApproveCmd(s *streams) *cobra.Command { return newAnswerCmd(s, true) }

func newDenyCmd(s *streams) *cobra.Command { return newAnswerCmd(s, false) }

func newAnswerCmd(s *streams, approve bool) *cobra.Command {
	verb, does := "deny", "Deny a step that waits for approval; the step is not run"
	if approve {
		verb, does = "approve", "Approve a step that waits for approval; the step then runs"
	}
	var comment, output string
	cmd := &cobra.Command{
		Use:   verb + " ID STEP",
		Short: does,
		Long: does + `.
STEP is the step's number as firebreak incidents show lists it, from 0. Nobody may
` + verb + ` a step of an incident they requested.` + apiEnvHelp,
		Example: "  firebreak " + verb + " inc-0123 1 --comment \"checked with the owner\"",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return usageErr("STEP %q: give the step's number from 0, as firebreak incidents show lists it", args[1])
			}
			done := fmt.Sprintf("%s step %d of %s", map[bool]string{true: "Approved", false: "Denied"}[approve], n, args[0])
			return runChange(s, output, done, func(c *client.Client) (*api.IncidentChange, error) {
				if approve {
					return c.Approve(cmd.Context(), args[0], n, comment)
				}
				return c.Deny(cmd.Context(), args[0], n, comment)
			})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why, for the audit")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// newReleaseCmd is firebreak release.
func newReleaseCmd(s *streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "release ID",
		Short: "Release an incident: undo its containment",
		Long: `Release undoes an incident's containment, step by step in reverse. When the undo of
some step fails the release still stands; the failure is printed, and the exit status
is 1, so that the step is put back by hand.` + apiEnvHelp,
		Example: "  firebreak release inc-0123",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return runChange(s, output, "Released "+args[0], func(c *client.Client) (*api.IncidentChange, error) {
				return c.Release(cmd.Context(), args[0])
			})
		},
	}
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// newCloseCmd is firebreak close.
func newCloseCmd(s *streams) *cobra.Command {
	var comment, output string
	cmd := &cobra.Command{
		Use:   "close ID",
		Short: "Close an incident: it is dealt with, and ends for good",
		Long: `Close ends an incident for good once it has come to rest: contained, released or
failed. Whatever its steps changed stays as it is (release it first to undo that); a
later event about the same resource opens a new incident rather than joining this one;
and a closed incident can be neither released nor approved. An incident still moving
(containing, awaiting approval, releasing) is refused with what to do first.` + apiEnvHelp,
		Example: "  firebreak close inc-0123 --comment \"owner rebuilt the instance\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			return runChange(s, output, "Closed "+args[0], func(c *client.Client) (*api.IncidentChange, error) {
				return c.Close(cmd.Context(), args[0], comment)
			})
		},
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why, for the audit")
	outputFlag(cmd.Flags(), &output)
	return cmd
}

// printChange writes the answer to approve, deny, release or close. A warning (an undo
// that failed) goes to standard error and makes the exit status 1.
// runChange connects, makes the change call asks for, and prints what it did: the end of
// approve, deny, release and close once their arguments are checked.
func runChange(s *streams, output, done string, call func(*client.Client) (*api.IncidentChange, error)) error {
	c, err := connect()
	if err != nil {
		return err
	}
	ch, err := call(c)
	if err != nil {
		return apiFailure(s, c, err)
	}
	return printChange(s, ch, output, done)
}

func printChange(s *streams, ch *api.IncidentChange, output, done string) error {
	if output == "json" {
		if err := writeJSONOut(s.out, ch); err != nil {
			return err
		}
	} else {
		state := ""
		if ch.Incident != nil {
			state = "; the incident is " + ch.Incident.State
		}
		fmt.Fprintf(s.out, "%s%s\n", done, state)
	}
	if ch.Warning != "" {
		return &exitError{code: ExitRejected, err: errors.New(ch.Warning)}
	}
	return nil
}

// actionFlags are the flags of the commands that ask for an action.
type actionFlags struct {
	account, region, id, reason, ticket, output string
}

// newIsolateCmd is firebreak isolate.
func newIsolateCmd(s *streams) *cobra.Command {
	var o actionFlags
	cmd := &cobra.Command{
		Use:   "isolate",
		Short: "Isolate an EC2 instance (ec2.isolate)",
		Long: `Isolate asks Firebreak to isolate an EC2 instance: it is moved into a quarantine
security group without rules (cutting its tracked connections) and detached from its Auto
Scaling group and load balancers, and what was changed is recorded so that firebreak
release can undo it. The answer names the
incident that handles it, which may be one already under way for the same instance.` + apiEnvHelp,
		Example: `  firebreak isolate --account 111122223333 --region us-east-1 --instance i-0a1b2c3d4e5f60001 --reason "crypto-mining alert" --ticket INC-42`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAction(cmd.Context(), s, "ec2.isolate", "instance", &o, "--instance")
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.id, "instance", "", "the instance id, i-... (required)")
	f.StringVar(&o.region, "region", "", "the instance's region (required)")
	o.common(f)
	return cmd
}

// newDeactivateUserCmd is firebreak deactivate-user.
func newDeactivateUserCmd(s *streams) *cobra.Command {
	var o actionFlags
	cmd := &cobra.Command{
		Use:   "deactivate-user",
		Short: "Deactivate an IAM user (iam.deactivate-user)",
		Long: `Deactivate-user asks Firebreak to deactivate an IAM user: its access keys are deactivated,
its console password removed and a deny-all policy attached. Firebreak release undoes it,
except the password, which an administrator must set anew.` + apiEnvHelp,
		Example: `  firebreak deactivate-user --account 111122223333 --user alice --reason "leaked access key" --ticket INC-43`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAction(cmd.Context(), s, "iam.deactivate-user", "iam-user", &o, "--user")
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.id, "user", "", "the IAM user's name (required)")
	// IAM is global; the region only says which regional endpoint the call goes through.
	f.StringVar(&o.region, "region", "us-east-1", "the region to call IAM in")
	o.common(f)
	return cmd
}

func (o *actionFlags) common(f *pflag.FlagSet) {
	f.StringVar(&o.account, "account", "", "the 12-digit AWS account id (required)")
	f.StringVar(&o.reason, "reason", "", "why, for the audit and the resource's owners (required)")
	f.StringVar(&o.ticket, "ticket", "", "the ticket that tracks it")
	outputFlag(f, &o.output)
}

func runAction(ctx context.Context, s *streams, name, kind string, o *actionFlags, idFlag string) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	// Missing flags are usage errors here; the values themselves are checked by the API,
	// whose reasons are printed field by field.
	var missing []string
	for _, f := range []struct{ flag, v string }{{"--account", o.account}, {"--region", o.region}, {idFlag, o.id}, {"--reason", o.reason}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return usageErr("%s required", strings.Join(missing, ", "))
	}
	c, err := connect()
	if err != nil {
		return err
	}
	acc, err := c.RequestAction(ctx, api.ActionRequest{Action: name, Reason: o.reason, Ticket: o.ticket,
		Target: api.TargetRequest{Account: o.account, Region: o.region, Kind: kind, ID: o.id}})
	if err != nil {
		return apiFailure(s, c, err)
	}
	if o.output == "json" {
		return writeJSONOut(s.out, acc)
	}
	if acc.Existing {
		fmt.Fprintf(s.out, "Already under way in incident %s\n", acc.Incident)
	} else {
		fmt.Fprintf(s.out, "Requested %s on %s %s: incident %s\n", name, kind, o.id, acc.Incident)
	}
	fmt.Fprintf(s.out, "Follow it with: firebreak incidents show %s\n", acc.Incident)
	return nil
}
