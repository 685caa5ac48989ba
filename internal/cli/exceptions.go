package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/client"
)

// newExceptionsCmd is firebreak exceptions [list|create|revoke].
func newExceptionsCmd(s *streams) *cobra.Command {
	var lo exceptionListFlags
	cmd := &cobra.Command{
		Use:   "exceptions",
		Short: "List exceptions in force (the default), show, create or revoke one",
		Long: `Exceptions manages approved deviations created at run time: a resource, or a whole
account, that the playbooks named leave alone until the exception expires or is revoked.
An exception for every playbook ("*") also refuses requests for actions on the resource.
Creating and revoking take the admin role; both are recorded in the audit. Exceptions
declared in the playbooks or an exceptions file are not listed here.` + apiEnvHelp,
		Example: `  firebreak exceptions
  firebreak exceptions list --state all --output json
  firebreak exceptions show exc-0123456789abcdef
  firebreak exceptions create --resource i-0a1b2c3d4e5f60001 --reason "forensic image in progress" --expires 72h
  firebreak exceptions create --account 444455556666 --playbook ec2-compromise-dev --reason "load test" --expires 2026-12-01T00:00:00Z --approved-by alice
  firebreak exceptions revoke exc-0123456789abcdef --reason "imaging finished"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExceptionList(cmd.Context(), s, &lo)
		},
	}
	lo.flags(cmd)

	var lo2 exceptionListFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List exceptions, newest first",
		Long:  `List lists the exceptions in force, newest first, or with --state all the expired and revoked ones too.` + apiEnvHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExceptionList(cmd.Context(), s, &lo2)
		},
	}
	lo2.flags(list)

	var co exceptionCreateFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an exception for a resource or an account",
		Long: `Create makes the playbooks named leave a resource (--resource, its id or ARN) or a whole
account (--account) alone until --expires: an RFC 3339 time, or a duration from now such as
72h or 30d, at most 90 days ahead. --playbook may be repeated; without it the exception
applies to every playbook, and refuses requests for actions on the resource too. A token
scoped to some accounts gives the resource by its ARN. The exception takes effect at
once.` + apiEnvHelp,
		Example: `  firebreak exceptions create --resource i-0a1b2c3d4e5f60001 --reason "forensic image in progress" --expires 72h`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExceptionCreate(cmd.Context(), s, &co, time.Now())
		},
	}
	f := create.Flags()
	f.StringVar(&co.resource, "resource", "", "the resource's id or ARN")
	f.StringVar(&co.account, "account", "", "the 12-digit AWS account id, to except the whole account")
	f.StringArrayVar(&co.playbooks, "playbook", nil, `a playbook the exception applies to; repeat for several (default "*", every playbook)`)
	f.StringVar(&co.reason, "reason", "", "why the deviation is approved (required)")
	f.StringVar(&co.expires, "expires", "", "when it ends: an RFC 3339 time, or a duration such as 72h or 30d (required)")
	f.StringVar(&co.approvedBy, "approved-by", "", "who approved it (default: you)")
	outputFlag(f, &co.output)

	var reason, output string
	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke an exception: the playbooks act on its resource again",
		Long:    `Revoke ends an exception before it expires; --reason says why, for the audit.` + apiEnvHelp,
		Example: `  firebreak exceptions revoke exc-0123456789abcdef --reason "imaging finished"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExceptionRevoke(cmd.Context(), s, args[0], reason, output)
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why it ends early (required)")
	outputFlag(revoke.Flags(), &output)

	var showOutput string
	show := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one exception, in force or not",
		Long:    `Show prints one exception with who created and approved it, when it ends, and, once revoked, who revoked it and why.` + apiEnvHelp,
		Example: `  firebreak exceptions show exc-0123456789abcdef`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExceptionShow(cmd.Context(), s, args[0], showOutput)
		},
	}
	outputFlag(show.Flags(), &showOutput)

	cmd.AddCommand(list, show, create, revoke)
	return cmd
}

type exceptionListFlags struct {
	client.ExceptionListOptions
	output string
}

func (o *exceptionListFlags) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.State, "state", "active", "active (in force now) or all (expired and revoked too)")
	f.StringVar(&o.Account, "account", "", "only exceptions that concern this account")
	outputFlag(f, &o.output)
}

type exceptionCreateFlags struct {
	resource, account, reason, expires, approvedBy, output string
	playbooks                                              []string
}

func runExceptionList(ctx context.Context, s *streams, o *exceptionListFlags) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.State != "active" && o.State != "all" {
		return usageErr("--state %q: use active or all", o.State)
	}
	c, err := connect()
	if err != nil {
		return err
	}
	list, err := c.ListExceptions(ctx, o.ExceptionListOptions)
	if err != nil {
		return apiFailure(s, c, err)
	}
	if o.output == "json" {
		return writeJSONOut(s.out, list)
	}
	if len(list.Exceptions) == 0 {
		if o.State == "all" {
			fmt.Fprintln(s.out, "No exceptions.")
		} else {
			fmt.Fprintln(s.out, "No exceptions in force.")
		}
		return nil
	}
	return printExceptions(s.out, list.Exceptions)
}

// printExceptions writes exceptions as a table, one a line.
func printExceptions(w io.Writer, xs []api.Exception) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tFOR\tPLAYBOOKS\tEXPIRES\tAPPROVED BY\tREASON")
	for _, x := range xs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.State, exceptionFor(x), strings.Join(x.Playbooks, ","),
			stamp(x.Expires), x.ApprovedBy, oneLine(x.Reason))
	}
	return tw.Flush()
}

// exceptionFor names what an exception is for.
func exceptionFor(x api.Exception) string {
	if x.Account != "" {
		return "account " + x.Account
	}
	return "resource " + x.Resource
}

func runExceptionCreate(ctx context.Context, s *streams, o *exceptionCreateFlags, now time.Time) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	// Missing flags are usage errors here; the values themselves are checked by the API,
	// whose reasons are printed field by field.
	switch {
	case (o.resource == "") == (o.account == ""):
		return usageErr("give --resource (an id or ARN) or --account, exactly one")
	case strings.TrimSpace(o.reason) == "":
		return usageErr("--reason required: say why the deviation is approved")
	case o.expires == "":
		return usageErr("--expires required: an RFC 3339 time, or a duration such as 72h or 30d, at most 90 days ahead")
	}
	expires, err := parseExpires(o.expires, now)
	if err != nil {
		return usageErr("--expires %q: %v", o.expires, err)
	}
	playbooks := o.playbooks
	if len(playbooks) == 0 {
		playbooks = []string{"*"}
	}
	c, err := connect()
	if err != nil {
		return err
	}
	x, err := c.CreateException(ctx, api.ExceptionRequest{Resource: o.resource, Account: o.account, Playbooks: playbooks,
		Reason: o.reason, Expires: expires.UTC().Format(time.RFC3339), ApprovedBy: o.approvedBy})
	if err != nil {
		return apiFailure(s, c, err)
	}
	if o.output == "json" {
		return writeJSONOut(s.out, x)
	}
	which := "playbooks " + strings.Join(x.Playbooks, ", ")
	if len(x.Playbooks) == 1 && x.Playbooks[0] == "*" {
		which = "every playbook"
	}
	fmt.Fprintf(s.out, "Created exception %s for %s (%s), approved by %s, until %s\n", x.ID, exceptionFor(*x), which, x.ApprovedBy, stamp(x.Expires))
	fmt.Fprintf(s.out, "Revoke it with: firebreak exceptions revoke %s --reason REASON\n", x.ID)
	return nil
}

// parseExpires reads --expires: an RFC 3339 time, or a duration from now in Go's syntax
// (72h, 90m) or in whole days (30d), since exceptions are thought of in days.
func parseExpires(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, errors.New("give an RFC 3339 time such as 2026-12-01T00:00:00Z, or a duration from now such as 72h or 30d")
	}
	return now.Add(d), nil
}

func runExceptionRevoke(ctx context.Context, s *streams, id, reason, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	if strings.TrimSpace(reason) == "" {
		return usageErr("--reason required: say why the exception ends early")
	}
	c, err := connect()
	if err != nil {
		return err
	}
	x, err := c.RevokeException(ctx, id, reason)
	if err != nil {
		return apiFailure(s, c, err)
	}
	if output == "json" {
		return writeJSONOut(s.out, x)
	}
	fmt.Fprintf(s.out, "Revoked exception %s for %s; the playbooks act on it again\n", x.ID, exceptionFor(*x))
	return nil
}

func runExceptionShow(ctx context.Context, s *streams, id, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	c, err := connect()
	if err != nil {
		return err
	}
	x, err := c.GetException(ctx, id)
	if err != nil {
		return apiFailure(s, c, err)
	}
	if output == "json" {
		return writeJSONOut(s.out, x)
	}
	tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Exception:\t%s\n", x.ID)
	fmt.Fprintf(tw, "State:\t%s\n", x.State)
	fmt.Fprintf(tw, "For:\t%s\n", exceptionFor(*x))
	fmt.Fprintf(tw, "Playbooks:\t%s\n", strings.Join(x.Playbooks, ", "))
	fmt.Fprintf(tw, "Reason:\t%s\n", oneLine(x.Reason))
	fmt.Fprintf(tw, "Approved by:\t%s\n", x.ApprovedBy)
	fmt.Fprintf(tw, "Created:\t%s by %s\n", stamp(x.Created), x.CreatedBy)
	fmt.Fprintf(tw, "Expires:\t%s\n", stamp(x.Expires))
	if !x.Revoked.IsZero() {
		fmt.Fprintf(tw, "Revoked:\t%s by %s: %s\n", stamp(x.Revoked), x.RevokedBy, oneLine(x.RevokeReason))
	}
	return tw.Flush()
}
