// Package cli is the firebreak command line: each subcommand parses its flags, wires the
// domain packages together and maps failures to the exit codes of CONTRACTS §6.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/intake/lambda"
)

// Exit codes (CONTRACTS §6).
const (
	ExitOK       = 0
	ExitRejected = 1 // some input was rejected or some action failed, each reported
	ExitUsage    = 2 // usage or configuration error
)

// version is set at build time with -ldflags "-X .../internal/cli.version=v1.2.3".
var version = ""

// exitError carries the exit code a command wants; the message, if any, is already printed
// unless err is set.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return fmt.Sprintf("exit status %d", e.code)
}

func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// streams are the process's standard streams, passed down so commands can be tested.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Main runs the command line and returns the process exit code. Inside AWS Lambda, with no
// arguments, it runs the lambda command: a function's runtime starts its bootstrap
// executable without any, so the binary itself can be the function's bootstrap.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 && lambda.RunningInLambda() {
		args = []string{"lambda"}
	}
	if args == nil {
		// Cobra reads os.Args when given nil; the arguments are only ever those passed here.
		args = []string{}
	}
	s := &streams{in: stdin, out: stdout, err: stderr}
	root := newRoot(s)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "firebreak: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything cobra reports itself (unknown command or flag, wrong argument count) is a
	// usage error.
	fmt.Fprintf(stderr, "firebreak: %v\nRun 'firebreak --help' for usage.\n", err)
	return ExitUsage
}

func newRoot(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "firebreak",
		Short: "Automated security incident response for AWS",
		Long: `Firebreak decides what to do about a detector's event (GuardDuty, Security Hub,
CloudTrail, AWS Health), contains the damage in the affected account, preserves
evidence first, records every step, and can undo its containment exactly.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(s),
		newReplayCmd(s),
		newPatternCmd(s),
		newPlaybookCmd(s),
		newRunCmd(s),
		newIAMPolicyCmd(s),
		newServeCmd(s),
		newMigrateCmd(s),
		newAuditCmd(s),
		newLambdaCmd(s),
		newTokenCmd(s),
		newLoginCmd(s),
		newIncidentsCmd(s),
		newApproveCmd(s),
		newDenyCmd(s),
		newReleaseCmd(s),
		newCloseCmd(s),
		newIsolateCmd(s),
		newDeactivateUserCmd(s),
		newExceptionsCmd(s),
	)
	return root
}

func newVersionCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(s.out, "firebreak", buildVersion())
			return nil
		},
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
