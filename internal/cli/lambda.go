package cli

import (
	"context"
	"os"

	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/config"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/intake/lambda"
)

func newLambdaCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lambda",
		Short: "Run as an AWS Lambda function that takes in events",
		Long: `Lambda runs Firebreak as the handler of an AWS Lambda function: an EventBridge rule,
an SNS subscription or an SQS event source mapping invokes it, and it stores the
events it is given, decides them with the playbooks and opens their incidents, in
the same PostgreSQL database the servers use. The steps are carried out by
'firebreak serve', which works the incidents of the shared database.

An SQS event source mapping must have ReportBatchItemFailures turned on: the function
answers with the messages whose events could not be stored, and only those are
delivered again. Values that are not events are kept as dead letters in the database.

Settings come from the configuration file (--config or FIREBREAK_CONFIG), then the
FIREBREAK_* environment variables (FIREBREAK_DATABASE=postgres://...), then the flags.`,
		Example: `  FIREBREAK_DATABASE=postgres://firebreak@db.internal/firebreak firebreak lambda`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLambda(cmd.Context(), s, cmd.Flags())
		},
	}
	f := cmd.Flags()
	f.String("playbooks", config.DefaultPlaybooks, "directory of playbooks")
	addStoreFlags(f)
	return cmd
}

func runLambda(ctx context.Context, s *streams, flags *pflag.FlagSet) error {
	// The runtime library exits the process when it is not inside Lambda; say why instead.
	if !lambda.RunningInLambda() {
		return usageErr("firebreak lambda runs inside AWS Lambda, and %s is not set; to take in events elsewhere run 'firebreak serve'", lambda.RuntimeEnv)
	}
	fn, closeStore, err := lambdaFunction(ctx, s, flags)
	if err != nil {
		return err
	}
	defer closeStore()
	awslambda.StartWithOptions(fn, awslambda.WithContext(ctx))
	return nil
}

// lambdaFunction builds the function handler over the configured store, migrated, with
// the playbooks loaded: everything is checked once, at cold start, rather than at each
// invocation.
func lambdaFunction(ctx context.Context, s *streams, flags *pflag.FlagSet) (*lambda.Function, func(), error) {
	cfg, err := config.Resolve(flags, os.LookupEnv)
	if err != nil {
		return nil, nil, &exitError{code: ExitUsage, err: err}
	}
	// A function's disk lasts as long as one of its instances: events stored in SQLite
	// there would be lost, and no server would ever act on them.
	if driver, _ := cfg.DatabaseDriver(); driver != config.DriverPostgres {
		return nil, nil, usageErr("firebreak lambda needs the PostgreSQL database the servers share: set FIREBREAK_DATABASE or --database to a postgres:// URL")
	}
	log := cfg.Log.Logger(s.err)
	set, err := loadPlaybooks(s, cfg.Playbooks)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(ctx, cfg, true)
	if err != nil {
		return nil, nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, nil, usageErr("database %s: %v; check that it is reachable and writable", storeName(cfg), err)
	}
	// The engine is never started here: it only accepts, and the servers run the steps.
	eng, err := engine.New(st, engine.Config{
		Decider:    newDecider(set, cfg.Modes),
		Catalogue:  catalog.Default(),
		Env:        &action.Env{Notify: logNotifier{log}, Cache: &action.Cache{}},
		JoinWindow: cfg.Limits.IncidentJoinWindow,
		Breaker: engine.Breaker{Window: cfg.Limits.Breaker.Window, PerPlaybook: cfg.Limits.Breaker.PerPlaybook,
			Total: cfg.Limits.Breaker.Overall, Accounts: cfg.Limits.Breaker.Accounts},
		Logger: log,
	})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	fn := lambda.Handler(eng, lambda.Options{DeadLetter: st, Logger: log})
	return fn, func() { st.Close() }, nil
}
