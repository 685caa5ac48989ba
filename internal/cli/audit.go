package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/anchor"
	"github.com/firebreak-sec/firebreak/internal/config"
	"github.com/firebreak-sec/firebreak/internal/store"
)

func newAuditCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify and export the audit chain the server records",
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check that no audit record was edited, deleted, inserted or reordered",
		Long: `Verify walks the audit chain of the store the server used, from the first record, and
checks that each record links to the one before it and matches its own hash.

Exit status: 0 and a one-line summary when the chain is intact; 1 naming the first
record where it is broken; 2 when the store cannot be opened or read. The summary
ends with the head hash: keep it elsewhere, and a later check can show that records
were removed from the end, which the chain alone cannot.

With --anchors (or audit.anchor.location in the configuration), verify also reads
every head the server wrote to that S3 bucket and checks that the chain still holds
each anchored record with the anchored hash: a chain rebuilt as a whole, or cut
short after an anchor, fails there, exit 1 naming the anchor.`,
		Example: `  firebreak audit verify --data-dir data
  firebreak audit verify --database postgres://firebreak@db/firebreak --anchors s3://firebreak-audit/firebreak/audit/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.Context(), s, cmd.Flags())
		},
	}
	addStoreFlags(verify.Flags())
	verify.Flags().String("anchors", "", "s3://BUCKET/PREFIX the chain's head was anchored in (default: audit.anchor.location); none checks the chain alone")
	export := &cobra.Command{
		Use:   "export",
		Short: "Write every audit record, in order, as one JSON object per line",
		Long: `Export writes the audit chain to standard output as NDJSON, oldest record first, with
each record's hash and the hash it links to, so that the chain can be archived and
checked outside Firebreak.`,
		Example: `  firebreak audit export --data-dir data > audit.ndjson`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditExport(cmd.Context(), s, cmd.Flags())
		},
	}
	addStoreFlags(export.Flags())
	cmd.AddCommand(verify, export)
	return cmd
}

// openConfiguredStore opens the existing store the flags, environment and configuration
// file name, as serve would find it.
func openConfiguredStore(ctx context.Context, flags *pflag.FlagSet) (*store.Store, *config.Config, error) {
	cfg, err := config.Resolve(flags, os.LookupEnv)
	if err != nil {
		return nil, nil, &exitError{code: ExitUsage, err: err}
	}
	st, err := openStore(ctx, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	return st, cfg, nil
}

func runAuditVerify(ctx context.Context, s *streams, flags *pflag.FlagSet) error {
	st, cfg, err := openConfiguredStore(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := st.VerifyAudit(ctx)
	var ce *store.ChainError
	switch {
	case errors.As(err, &ce):
		return &exitError{code: ExitRejected, err: fmt.Errorf("%s: audit chain broken: %v; the records from %d on cannot be trusted: compare them with an earlier export or a backup",
			storeName(cfg), ce, ce.Seq)}
	case err != nil:
		return usageErr("%s: read the audit chain: %v; check that this is the database the server used", storeName(cfg), err)
	}
	location := cfg.Audit.Anchor.Location
	if v, _ := flags.GetString("anchors"); v != "" {
		location = v
	}
	if location == "" || location == "none" {
		fmt.Fprintln(s.out, sum.String())
		return nil
	}
	ac := cfg.Audit.Anchor
	ac.Location = location
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return usageErr("AWS configuration: %v; check the credentials the SDK finds (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)", err)
	}
	a, err := newAnchor(awsCfg, ac, "")
	if err != nil {
		return err
	}
	rep, err := a.Verify(ctx, st)
	var m *anchor.Mismatch
	switch {
	case errors.As(err, &m):
		return &exitError{code: ExitRejected, err: fmt.Errorf("%s: audit chain disagrees with its anchors in %s: %v; compare the chain with an earlier export or a backup", storeName(cfg), location, m)}
	case err != nil:
		return usageErr("%v", err)
	}
	fmt.Fprintf(s.out, "%s; %d anchors in %s agree, the latest at record %d\n", sum, rep.Anchors, location, rep.Latest)
	return nil
}

func runAuditExport(ctx context.Context, s *streams, flags *pflag.FlagSet) error {
	st, cfg, err := openConfiguredStore(ctx, flags)
	if err != nil {
		return err
	}
	defer st.Close()
	out := bufio.NewWriter(s.out)
	if err := st.ExportAudit(ctx, out); err != nil {
		out.Flush()
		return usageErr("%s: export the audit chain: %v; check that this is the database the server used", storeName(cfg), err)
	}
	if err := out.Flush(); err != nil {
		return &exitError{code: ExitRejected, err: fmt.Errorf("write the export: %w", err)}
	}
	return nil
}
