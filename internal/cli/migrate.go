package cli

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/config"
	"github.com/firebreak-sec/firebreak/internal/store"
)

func newMigrateCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the database schema",
		Long: `Migrate brings the database's schema up to date, creating the SQLite file when it is
missing, and says which migrations it applied. serve migrates on every start too; run
this before starting several replicas on a new PostgreSQL database, or to see what an
upgrade changes.`,
		Example: `  firebreak migrate --data-dir data
  firebreak migrate --database postgres://firebreak@db/firebreak`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrate(cmd.Context(), s, cmd.Flags())
		},
	}
	addStoreFlags(cmd.Flags())
	return cmd
}

func runMigrate(ctx context.Context, s *streams, flags *pflag.FlagSet) error {
	cfg, err := config.Resolve(flags, os.LookupEnv)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	st, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	before := appliedMigrations(ctx, st)
	if err := st.Migrate(ctx); err != nil {
		return usageErr("database %s: %v; check that it is reachable and writable", storeName(cfg), err)
	}
	after := appliedMigrations(ctx, st)
	var applied []string
	for _, m := range after {
		if !slices.Contains(before, m) {
			applied = append(applied, m)
		}
	}
	name := storeName(cfg)
	switch {
	case len(applied) == 0 && len(after) > 0:
		fmt.Fprintf(s.out, "%s: schema up to date at %s; nothing to do\n", name, after[len(after)-1])
	case len(applied) == 0:
		fmt.Fprintf(s.out, "%s: schema up to date\n", name)
	default:
		fmt.Fprintf(s.out, "%s: applied %d migrations: %s\n", name, len(applied), strings.Join(applied, ", "))
	}
	return nil
}

// appliedMigrations lists the migrations recorded in the database, oldest first, as
// NNNN_name; none when the schema table does not exist yet.
func appliedMigrations(ctx context.Context, st *store.Store) []string {
	var out []string
	err := st.Read(ctx, func(tx *store.Tx) error {
		return tx.Query(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`, func(r store.Row) error {
			var (
				v    int
				name string
			)
			if err := r.Scan(&v, &name); err != nil {
				return err
			}
			out = append(out, fmt.Sprintf("%04d_%s", v, name))
			return nil
		})
	})
	if err != nil {
		return nil
	}
	return out
}
