package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/api"
	"github.com/firebreak-sec/firebreak/internal/auth"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/config"
	"github.com/firebreak-sec/firebreak/internal/console"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/intake"
	"github.com/firebreak-sec/firebreak/internal/intake/sqs"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/server"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// Server timeouts. A slow or stalled client must not hold a connection, and a goroutine,
// for ever; the bodies are small JSON documents, so a minute to send one is generous.
const (
	serveReadHeaderTimeout = 10 * time.Second
	serveReadTimeout       = time.Minute
	serveWriteTimeout      = time.Minute
	serveIdleTimeout       = 2 * time.Minute
	// serveShutdownTimeout bounds the drain on SIGINT or SIGTERM: requests in flight are
	// answered and running steps finish. A step still running then is interrupted and runs
	// again after the next start (the actions are idempotent).
	serveShutdownTimeout = 30 * time.Second
)

// Development settings.
const (
	// devWorld is the simulated organisation serve --dev acts on without --world.
	devWorld = "examples/world.yaml"
	// devWorldState is where the organisation's state is kept, under the data directory,
	// without --world-state.
	devWorldState = "world-state.json"
	// devExampleEvent is the event the printed curl line posts.
	devExampleEvent = "examples/events/guardduty-backdoor-c2-prod.json"
	// devPollInterval is how often idle workers look for steps: a developer waits for
	// each step, and polling a local SQLite file often costs nothing.
	devPollInterval = 200 * time.Millisecond
)

type serveOptions struct {
	dev        bool
	world      string
	worldState string
	// debugListen serves Go's profiler (net/http/pprof) on a second listener, for finding
	// where a slow server spends its time; off unless given, as profiles reveal internals.
	debugListen string
}

func newServeCmd(s *streams) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: take events over HTTP and contain the incidents they open",
		Long: `Serve takes detectors' events with POST /v1/events (header X-Api-Key), stores them,
decides them with the playbooks and carries out the planned steps, recording every
change in the audit chain. It answers GET /healthz, /readyz and /metrics too. It also
takes events from the SQS queues listed under sqs.queues in the configuration file,
with the AWS credentials the SDK finds (AWS_ENDPOINT_URL names another endpoint).

Settings come from the configuration file (--config or FIREBREAK_CONFIG), then the
FIREBREAK_* environment variables, then the flags. An API key is required: set
FIREBREAK_API_KEY or list api_keys in the file.

With --dev nothing needs configuring: the server acts on the simulated organisation of
--world, keeps its state in --world-state across restarts, stores incidents in a
temporary directory unless --data-dir or --database is given, and prints an API key
(FIREBREAK_API_KEY's, or a new one) and a curl command that posts an example event;
it polls SQS only when queues are configured.

SIGHUP reloads the playbooks, all or nothing, and so does a change to their files (looked
for every 2 seconds): a set with any problem is logged and audited, and the running set
stays in force. SIGINT or SIGTERM stops taking requests, lets the running
ones, the messages received and the running steps finish, and exits.`,
		Example: `  firebreak serve --dev
  FIREBREAK_API_KEY=... firebreak serve --config firebreak.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), s, o, cmd.Flags())
		},
	}
	f := cmd.Flags()
	f.String("listen", config.DefaultListen, "HOST:PORT to listen on")
	f.String("playbooks", config.DefaultPlaybooks, "directory of playbooks")
	addStoreFlags(f)
	f.BoolVar(&o.dev, "dev", false, "development: act on a simulated organisation, with no configuration needed")
	f.StringVar(&o.world, "world", devWorld, "with --dev, the simulated organisation to act on (CONTRACTS §4)")
	f.StringVar(&o.worldState, "world-state", "", "with --dev, the file the organisation's state is kept in across restarts (default DATA-DIR/"+devWorldState+")")
	f.StringVar(&o.debugListen, "debug-listen", "", "HOST:PORT to serve Go's profiler on (/debug/pprof/); keep it on loopback")
	return cmd
}

// addStoreFlags adds the flags that say where the store is, shared by every command that
// reads or writes it, so that each finds the database serve used.
func addStoreFlags(f *pflag.FlagSet) {
	f.String(config.FlagConfig, "", "configuration file (firebreak.yaml); FIREBREAK_CONFIG also names it")
	f.String("data-dir", config.DefaultDataDir, "directory of the SQLite database ("+config.DatabaseFile+")")
	f.String("database", "", "SQLite file path, or postgres://... URL for several replicas (default DATA-DIR/"+config.DatabaseFile+")")
}

func runServe(ctx context.Context, s *streams, o *serveOptions, flags *pflag.FlagSet) error {
	if !o.dev && (flags.Changed("world") || flags.Changed("world-state")) {
		return usageErr("--world and --world-state need --dev: only the simulated organisation has a world file")
	}
	cfg, err := config.Resolve(flags, os.LookupEnv)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	keys := cfg.APIKeys
	if len(keys) == 0 {
		if !o.dev {
			return usageErr("no API key configured: set FIREBREAK_API_KEY to a secret of at least %d characters, or list api_keys in the configuration file (--config); only --dev makes one up", config.MinAPIKeyLength)
		}
		k, err := newAPIKey()
		if err != nil {
			return err
		}
		keys = []config.APIKey{{Name: "dev", Key: config.Secret(k)}}
	}
	if o.dev && !storeGiven(flags) {
		// A developer's first run must not need a directory of its own, and must not find
		// incidents left over from someone else's. The directory is kept after exit, so
		// that its audit chain can still be verified.
		dir, err := os.MkdirTemp("", "firebreak-dev-")
		if err != nil {
			return usageErr("create a temporary data directory: %v; pass --data-dir DIR", err)
		}
		cfg.DataDir, cfg.Database = dir, filepath.Join(dir, config.DatabaseFile)
	}
	log := cfg.Log.Logger(s.err)

	// Taken before the files are read, so that a change made while they are is seen.
	loadedFP, _ := fingerprint(cfg.Playbooks)
	set, err := loadPlaybooks(s, cfg.Playbooks)
	if err != nil {
		return err
	}
	decider := newDecider(set, cfg.Modes)
	// The playbooks in force, swapped whole on reload so that the API and the engine
	// never see half a set.
	current := &atomic.Pointer[loadedPlaybooks]{}
	current.Store(newLoadedPlaybooks(set, decider))

	if driver, path := cfg.DatabaseDriver(); driver == config.DriverSQLite {
		release, err := lockDatabase(path)
		if err != nil {
			return err
		}
		defer release()
	}
	st, err := openStore(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return usageErr("database %s: %v; check that it is reachable and writable", storeName(cfg), err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	env := &action.Env{Notify: logNotifier{log}, Cache: &action.Cache{}}
	var (
		inv   decide.Inventory
		saver *worldSaver
		// awsCfg is the SDK's configuration, shared by the provider and the SQS clients so
		// that both find the same credentials and endpoint. --dev needs it only for queues.
		awsCfg aws.Config
	)
	if !o.dev || len(cfg.SQS.Queues) > 0 || cfg.Audit.Anchor.Location != "" {
		if awsCfg, err = awsconfig.LoadDefaultConfig(ctx); err != nil {
			return usageErr("AWS configuration: %v; check the credentials the SDK finds (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)", err)
		}
	}
	if o.dev {
		var org *sim.Org
		org, inv, saver, err = devOrganisation(o, cfg, log)
		if err != nil {
			return err
		}
		env.Cloud = org
		// The simulation finishes background work (snapshots, commands) within a few
		// polls; waiting AWS's intervals for it would only slow a developer down.
		env.Poll = 10 * time.Millisecond
		// Nothing is ever in flight in a simulation in this process.
		env.Settle = -1
	} else {
		p, err := awscloud.NewFromConfig(awsCfg, awscloud.Options{RoleName: cfg.Accounts.RoleName, ExternalID: string(cfg.Accounts.ExternalID),
			Accounts: accountOverrides(cfg.Accounts), Registry: reg})
		if err != nil {
			return usageErr("AWS configuration: %v; check the credentials the SDK finds (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL)", err)
		}
		env.Cloud = p
	}

	ecfg := engine.Config{
		Decider:    decider,
		Catalogue:  catalog.Default(),
		Env:        env,
		Inventory:  inv,
		JoinWindow: cfg.Limits.IncidentJoinWindow,
		Breaker: engine.Breaker{Window: cfg.Limits.Breaker.Window, PerPlaybook: cfg.Limits.Breaker.PerPlaybook,
			Total: cfg.Limits.Breaker.Overall, Accounts: cfg.Limits.Breaker.Accounts},
		ApprovalTimeout:   cfg.Approvals.Timeout,
		OnApprovalTimeout: cfg.Approvals.OnTimeout,
		Registry:          reg,
		Logger:            log,
	}
	if saver != nil {
		ecfg.AfterStep = saver.afterStep
		ecfg.PollInterval = devPollInterval
	}
	eng, err := engine.New(st, ecfg)
	if err != nil {
		return err
	}
	if err := eng.RecordConfig(ctx, "config.loaded", configName(flags), configRecord(cfg, set, o.dev)); err != nil {
		return usageErr("database %s: record the configuration in the audit chain: %v; check that it is writable", storeName(cfg), err)
	}

	apiKeys := make([]server.APIKey, len(keys))
	for i, k := range keys {
		apiKeys[i] = server.APIKey{Name: k.Name, Key: string(k.Key)}
	}
	handler, err := server.New(server.Options{Intake: eng, APIKeys: apiKeys, Ready: func(ctx context.Context) error {
		return pingStore(ctx, st)
	}, Registry: reg, Logger: log})
	if err != nil {
		return err
	}
	// Responders' API: bearer tokens, roles scoped to accounts. /v1/events keeps its API
	// key, which is what EventBridge API destinations send.
	authn := &auth.Authenticator{Store: st}
	var oidcLogin *console.OIDCLogin
	if cfg.OIDC.Enabled() {
		if authn.OIDC, oidcLogin, err = oidcFromConfig(ctx, cfg.OIDC); err != nil {
			return usageErr("oidc: %v", err)
		}
	}
	// Sensitivity clearance comes with the principal (its token's, or its OIDC groups'), so
	// that the API and the console apply one rule without being handed it.
	// One allowance of bad credentials per address, whether presented to the API or at
	// the console's sign-in.
	throttle := auth.NewThrottle(serveAuthFailures, serveAuthRefill, nil)
	responders, err := api.New(api.Options{Engine: eng, Store: st, Auth: authn,
		Catalogue: catalog.Default(), Inventory: inv, Logger: log,
		RateLimit: api.RateLimit{PerSecond: serveAPIRate, Burst: serveAPIBurst}, Throttle: throttle,
		Playbooks: func() *playbook.Set { return current.Load().set },
		Decider:   func() *decide.Engine { return current.Load().decider }})
	if err != nil {
		return err
	}
	// The console: the same engine and authorisation, for people at a browser.
	ui, err := console.New(console.Options{Engine: eng, Store: st, Auth: authn,
		Catalogue: catalog.Default(), Inventory: inv, Logger: log, OIDC: oidcLogin, Throttle: throttle,
		Playbooks: func() *playbook.Set { return current.Load().set }})
	if err != nil {
		return err
	}
	root := routeResponders(handler, responders, ui)

	pollers, err := sqsPollers(awsCfg, cfg.SQS.Queues, eng, st, reg, log)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return usageErr("--listen %s: %v; choose a free HOST:PORT", cfg.Listen, err)
	}
	// The engine outlives the request context: it is stopped explicitly below, after the
	// HTTP server has drained, so that no accepted event waits on a stopped queue.
	if err := eng.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{
		Handler:           root,
		ReadHeaderTimeout: serveReadHeaderTimeout,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      serveWriteTimeout,
		IdleTimeout:       serveIdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	// The pollers stop taking messages as soon as shutdown begins, like the HTTP server,
	// and are waited for before the engine stops, so that every message they received is
	// stored, or left on its queue, rather than cut off halfway.
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var polling sync.WaitGroup
	for _, p := range pollers {
		polling.Go(func() { p.Run(pollCtx) })
	}
	for _, q := range cfg.SQS.Queues {
		log.Info("polling SQS", "queue", q.URL, "region", q.Region)
	}

	if cfg.Audit.Anchor.Location != "" {
		a, err := newAnchor(awsCfg, cfg.Audit.Anchor, eng.ReplicaID())
		if err != nil {
			return err
		}
		anchorCtx, stopAnchor := context.WithCancel(context.WithoutCancel(ctx))
		var anchoring sync.WaitGroup
		anchoring.Go(func() { a.Loop(anchorCtx, st, cfg.Audit.Anchor.Every, log) })
		// Stopped before the store closes, after everything that writes records.
		defer func() { stopAnchor(); anchoring.Wait() }()
		log.Info("anchoring the audit chain", "location", cfg.Audit.Anchor.Location, "every", cfg.Audit.Anchor.Every, "mode", cfg.Audit.Anchor.Mode)
	}

	if o.debugListen != "" {
		_, stopDebug, err := serveDebug(o.debugListen, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	addr := ln.Addr().String()
	fmt.Fprintf(s.out, "listening on http://%s\n", addr)
	if o.dev {
		key := string(keys[0].Key)
		fmt.Fprintf(s.out, "api key: %s\n", key)
		fmt.Fprintf(s.out, "curl -sS -H 'X-Api-Key: %s' --data-binary @%s http://%s/v1/events\n", key, devExampleEvent, addr)
		fmt.Fprintf(s.out, "audit: firebreak audit verify %s\n", storeFlag(cfg))
	}
	log.Info("serving", "listen", addr, "playbooks", cfg.Playbooks, "count", len(set.Playbooks), "database", storeName(cfg))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	changed := watchPlaybooks(ctx, cfg.Playbooks, playbookPollInterval, loadedFP)

	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down: finishing requests and running steps")
			break loop
		case err := <-served:
			serveErr = fmt.Errorf("serve on %s: %w", addr, err)
			break loop
		case <-hup:
			reloadPlaybooks(ctx, cfg, eng, current, log)
		case <-changed:
			log.Info("playbook files changed; reloading", "dir", cfg.Playbooks)
			reloadPlaybooks(ctx, cfg, eng, current, log)
		}
	}

	stopPolling()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), serveShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight at shutdown were cut off", "err", err)
	}
	// The pollers' drain is bounded by sqsDrainTimeout, within the shutdown's time.
	polling.Wait()
	if err := eng.Stop(sctx); err != nil {
		log.Warn("steps still running at shutdown were interrupted; they run again at the next start", "err", err)
	}
	if saver != nil {
		if err := saver.save(); err != nil {
			serveErr = errors.Join(serveErr, err)
		}
	}
	if serveErr != nil {
		return &exitError{code: ExitRejected, err: serveErr}
	}
	return nil
}

// accountOverrides turns the configuration's per-account settings into the provider's.
func accountOverrides(a config.Accounts) map[string]awscloud.Account {
	if len(a.Overrides) == 0 {
		return nil
	}
	out := make(map[string]awscloud.Account, len(a.Overrides))
	for _, o := range a.Overrides {
		out[o.ID] = awscloud.Account{Role: o.Role, ExternalID: string(o.ExternalID), Regions: o.Regions}
	}
	return out
}

// sqsDrainTimeout bounds how long a poller, once shutdown begins, keeps storing the messages
// it has received: half the shutdown's time, so that the engine's own drain still has the
// rest. A message not stored by then stays on its queue and is delivered again.
const sqsDrainTimeout = serveShutdownTimeout / 2

// sqsPollers builds a poller for each configured queue, each with a client for the queue's
// region from awsCfg (which honours AWS_ENDPOINT_URL), and counts what they do in reg.
// A poller takes the options of one queue, so each queue has its own.
func sqsPollers(awsCfg aws.Config, queues []config.Queue, in intake.Intake, dl intake.DeadLetterer, reg prometheus.Registerer, log *slog.Logger) ([]*sqs.Poller, error) {
	if len(queues) == 0 {
		return nil, nil
	}
	counter := func(name, help string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"queue"})
		reg.MustRegister(c)
		return c
	}
	received := counter("firebreak_sqs_messages_received_total", "Messages received from each SQS queue.")
	stored := counter("firebreak_sqs_messages_stored_total", "Messages from each SQS queue taken in and deleted.")
	deadLettered := counter("firebreak_sqs_messages_dead_lettered_total", "Messages from each SQS queue kept, whole or in part, as dead letters.")
	failed := counter("firebreak_sqs_failures_total", "Messages left on each SQS queue, and failed calls to it.")
	hooks := sqs.Hooks{
		Received: func(q string, n int) { received.WithLabelValues(q).Add(float64(n)) },
		Stored: func(q string, res intake.Result) {
			stored.WithLabelValues(q).Inc()
			if res.DeadLettered {
				deadLettered.WithLabelValues(q).Inc()
			}
		},
		Failed: func(q string, _ error) { failed.WithLabelValues(q).Inc() },
	}
	var pollers []*sqs.Poller
	for _, q := range queues {
		client := awssqs.NewFromConfig(awsCfg, func(o *awssqs.Options) { o.Region = q.Region })
		p, err := sqs.New(client, in, dl, sqs.Options{
			Queues:            []string{q.URL},
			WaitTime:          q.WaitTime,
			MaxMessages:       q.MaxMessages,
			VisibilityTimeout: q.VisibilityTimeout,
			DrainTimeout:      sqsDrainTimeout,
			Logger:            log,
			Hooks:             hooks,
		})
		if err != nil {
			return nil, &exitError{code: ExitUsage, err: err}
		}
		pollers = append(pollers, p)
	}
	return pollers, nil
}

// storeGiven says whether the user named a store, by flag, environment or configuration
// file; --dev uses a temporary one only when nobody did.
func storeGiven(flags *pflag.FlagSet) bool {
	if flags.Changed("data-dir") || flags.Changed("database") || flags.Changed(config.FlagConfig) {
		return true
	}
	for _, v := range []string{"FIREBREAK_DATA_DIR", "FIREBREAK_DATABASE", config.EnvConfig} {
		if _, ok := os.LookupEnv(v); ok {
			return true
		}
	}
	return false
}

// newAPIKey makes a key for --dev: 128 random bits, hex, well above MinAPIKeyLength.
func newAPIKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate an API key: %w; set FIREBREAK_API_KEY instead", err)
	}
	return hex.EncodeToString(b), nil
}

// newDecider builds the decider for set with the configured modes applied, so that a
// dry_run or a per-playbook mode in the configuration file wins over the playbook's own.
func newDecider(set *playbook.Set, modes config.Modes) *decide.Engine {
	for _, p := range set.Playbooks {
		p.Mode = playbook.Mode(modes.Mode(p.Name, string(p.Mode)))
	}
	return decide.New(set, decide.Options{})
}

// reloadPlaybooks replaces the engine's playbooks with the directory's current ones, all or
// nothing: half a set could drop the playbook that contains an incident now, so a set with
// any problem leaves the running one in force.
func reloadPlaybooks(ctx context.Context, cfg *config.Config, eng *engine.Engine, current *atomic.Pointer[loadedPlaybooks], log *slog.Logger) {
	set, err := playbook.LoadDir(cfg.Playbooks, catalog.Default())
	if err != nil {
		problems := []string{err.Error()}
		var les playbook.LoadErrors
		if errors.As(err, &les) {
			problems = problems[:0]
			for _, le := range les {
				log.Error("playbook problem", "at", le.Error())
				problems = append(problems, le.Error())
			}
		}
		log.Error("playbooks not reloaded: the previous set stays in force; fix the problems, and the files are read again when they change (or on SIGHUP)",
			"dir", cfg.Playbooks, "problems", len(problems))
		if err := eng.RecordConfig(ctx, "playbooks.rejected", cfg.Playbooks, map[string]any{"problems": problems}); err != nil {
			log.Error("audit the rejected playbooks", "err", err)
		}
		return
	}
	decider := newDecider(set, cfg.Modes)
	current.Store(newLoadedPlaybooks(set, decider))
	eng.SetDecider(decider)
	log.Info("playbooks reloaded", "dir", cfg.Playbooks, "count", len(set.Playbooks))
	if err := eng.RecordConfig(ctx, "playbooks.reloaded", cfg.Playbooks, map[string]any{"playbooks": playbookNames(set)}); err != nil {
		log.Error("audit the reloaded playbooks", "err", err)
	}
}

// openStore opens the configured database. create says whether a missing SQLite file may
// be created: a command that only reads must not make an empty store and report on it.
func openStore(ctx context.Context, cfg *config.Config, create bool) (*store.Store, error) {
	driver, source := cfg.DatabaseDriver()
	if driver == config.DriverSQLite {
		if create {
			if err := os.MkdirAll(filepath.Dir(source), 0o700); err != nil {
				return nil, usageErr("data directory %s: %v; pass a writable --data-dir", filepath.Dir(source), err)
			}
		} else if _, err := os.Stat(source); errors.Is(err, fs.ErrNotExist) {
			return nil, usageErr("database %s does not exist; pass the --data-dir or --database the server used", source)
		} else if err != nil {
			return nil, usageErr("database %s: %v; pass the --data-dir or --database the server used", source, err)
		}
	}
	st, err := store.Open(ctx, source)
	if err != nil {
		return nil, usageErr("database %s: %v; check --database or --data-dir", storeName(cfg), err)
	}
	return st, nil
}

// lockDatabase takes an exclusive lock on the file DATABASE.lock beside a SQLite database,
// held until release or the process's end, however it ends. One server per SQLite file is
// what lets the engine, at start, hand back every step job left running: they can only be
// the orphans of a process that has died. A second server on the same file would have its
// running steps taken, so it is refused instead.
func lockDatabase(path string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, usageErr("data directory %s: %v; pass a writable --data-dir", filepath.Dir(path), err)
	}
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, usageErr("lock %s: %v; pass a writable --data-dir", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, usageErr("another firebreak serve (pid %s) holds %s: one server per SQLite database; stop it first, or share a PostgreSQL database (--database postgres://...) between replicas",
				strings.TrimSpace(string(holder)), name)
		}
		return nil, usageErr("lock %s: %v", name, err)
	}
	// The holder's pid, for the message above and for an operator; the lock is the flock,
	// not the file, so a file left by a killed server locks nothing.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// storeName names the database for messages without the password a postgres URL may hold.
func storeName(cfg *config.Config) string {
	driver, source := cfg.DatabaseDriver()
	if driver == config.DriverPostgres {
		return redactURL(source)
	}
	return source
}

// storeFlag is the flag that names the configured database to the other commands.
func storeFlag(cfg *config.Config) string {
	if cfg.Database == filepath.Join(cfg.DataDir, config.DatabaseFile) {
		return "--data-dir " + cfg.DataDir
	}
	return "--database " + storeName(cfg)
}

// redactURL hides the password in a database URL; a URL it cannot read is hidden whole,
// since it may hold one.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[database URL]"
	}
	return u.Redacted()
}

// pingStore is the readiness check: the server can take events only while the database
// answers, since it acknowledges an event only once it is stored.
func pingStore(ctx context.Context, st *store.Store) error {
	return st.Read(ctx, func(tx *store.Tx) error {
		var one int
		return tx.QueryRow(ctx, "SELECT 1").Scan(&one)
	})
}

// devOrganisation builds the simulated organisation of serve --dev: the saved state when
// there is one, so that a restart acts on the organisation as the last run left it, and
// the world file otherwise.
func devOrganisation(o *serveOptions, cfg *config.Config, log *slog.Logger) (*sim.Org, decide.Inventory, *worldSaver, error) {
	statePath := o.worldState
	if statePath == "" {
		statePath = filepath.Join(cfg.DataDir, devWorldState)
	}
	from := statePath
	data, err := os.ReadFile(statePath)
	if errors.Is(err, fs.ErrNotExist) {
		from = o.world
		data, err = os.ReadFile(o.world)
	}
	if err != nil {
		return nil, nil, nil, usageErr("world %s: %v; pass --world FILE", from, err)
	}
	w, err := world.Parse(from, data)
	if err != nil {
		return nil, nil, nil, &exitError{code: ExitUsage, err: err}
	}
	// Deciding reads tags from a copy of its own: the simulation changes its world while
	// steps run, and reading that one from the intake at the same time would race.
	snapshot, err := world.Parse(from, data)
	if err != nil {
		return nil, nil, nil, &exitError{code: ExitUsage, err: err}
	}
	org := sim.New(w, sim.Options{})
	saver := &worldSaver{org: org, path: statePath, log: log}
	// Saving at once proves the path writable before any event is taken.
	if err := saver.save(); err != nil {
		return nil, nil, nil, usageErr("%v; pass a writable --world-state FILE", err)
	}
	log.Info("simulated organisation", "from", from, "state", statePath)
	return org, decide.WorldInventory(snapshot), saver, nil
}

// worldSaver keeps the simulated organisation's state file in step with the store, so that
// after a restart the organisation is as the recorded incidents left it.
type worldSaver struct {
	mu   sync.Mutex // one write at a time: steps finish on several workers
	org  *sim.Org
	path string
	log  *slog.Logger
}

func (ws *worldSaver) afterStep(incident string, st store.Step) {
	if err := ws.save(); err != nil {
		ws.log.Error("simulated organisation not saved", "incident", incident, "step", st.Index, "err", err)
	}
}

func (ws *worldSaver) save() error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if err := writeFileAtomic(ws.path, ws.org.Dump); err != nil {
		return fmt.Errorf("world state %s: %w", ws.path, err)
	}
	return nil
}

// writeFileAtomic writes path through a temporary file in the same directory and a rename,
// so that a crash mid-write leaves the previous content rather than half a file.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// logNotifier delivers notifications to the log: no notification integration is
// configured yet, and a notification must never vanish without a trace.
type logNotifier struct{ log *slog.Logger }

func (n logNotifier) Notify(ctx context.Context, m action.Notification) (retry bool, err error) {
	n.log.InfoContext(ctx, "notification", "incident", m.Incident, "to", m.To, "channel", m.Channel,
		"subject", m.Subject, "message", m.Message)
	return false, nil
}

// The responders' API allows each principal this many calls a second, in bursts of this
// many: ample for people and scripts, a brake on a runaway loop.
const (
	serveAPIRate  = 20
	serveAPIBurst = 40
	// serveAuthFailures bad credentials an address may present at once, and one more every
	// serveAuthRefill: a person who mistypes is not held up, a guesser gets ten a minute.
	serveAuthFailures = 10
	serveAuthRefill   = 6 * time.Second
)

// routeResponders sends the responders' API (/v1/... other than /v1/events) to api, the
// console's pages to ui, and everything else (intake, health, metrics) to intake.
func routeResponders(intake, api, ui http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/v1/") && p != "/v1/events":
			api.ServeHTTP(w, r)
		case p == console.Prefix || strings.HasPrefix(p, console.Prefix+"/"):
			ui.ServeHTTP(w, r)
		case p == "/":
			http.Redirect(w, r, console.Prefix+"/", http.StatusSeeOther)
		default:
			intake.ServeHTTP(w, r)
		}
	})
}

// loadedPlaybooks is a playbook set and the decider built from it, in force together.
type loadedPlaybooks struct {
	set     *playbook.Set
	decider *decide.Engine
}

func newLoadedPlaybooks(set *playbook.Set, decider *decide.Engine) *loadedPlaybooks {
	return &loadedPlaybooks{set: set, decider: decider}
}

// oidcFromConfig builds, from the oidc section, the verifier for OIDC bearer tokens and
// the console's browser sign-in; both grant roles by the same group rules.
func oidcFromConfig(ctx context.Context, c config.OIDC) (auth.OIDCVerifier, *console.OIDCLogin, error) {
	grants := make([]auth.Grant, len(c.Grants))
	for i, g := range c.Grants {
		grants[i] = auth.Grant{Group: g.Group, Role: auth.Role(g.Role), Accounts: g.Accounts, Clearance: g.Clearance}
	}
	verifier, err := auth.NewOIDC(ctx, auth.OIDCOptions{Issuer: c.Issuer, Audience: c.Audience,
		GroupsClaim: c.GroupsClaim, Grants: grants})
	if err != nil {
		return nil, nil, err
	}
	login, err := console.NewOIDCLogin(ctx, console.OIDCLoginOptions{Issuer: c.Issuer, ClientID: c.ClientID,
		ClientSecret: string(c.ClientSecret), RedirectURL: c.RedirectURL, GroupsClaim: c.GroupsClaim, Grants: grants})
	if err != nil {
		return nil, nil, err
	}
	return verifier, login, nil
}
