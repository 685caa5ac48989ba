package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/decide"
	// Named apart from bench_test.go's engine, the decision benchmarks' library cache.
	durable "github.com/firebreak-sec/firebreak/internal/engine"
	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/server"
	"github.com/firebreak-sec/firebreak/internal/store"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
	"github.com/firebreak-sec/firebreak/internal/world"
)

const (
	// intakeEvents is how many events the intake benchmark posts, one per request.
	intakeEvents = 10_000
	// intakeClients is how many clients post at once, and how many writers the plain
	// insert baseline runs.
	intakeClients = 16
	// starterPlaybooks is the library Firebreak ships.
	starterPlaybooks = "../../playbooks"
	// benchAPIKey is the key the benchmarks' clients send.
	benchAPIKey = "bench-key"
)

// intakeBodies returns n request bodies, each one distinct event from the corpus (the first
// n corpus values that hold exactly one event with an id not seen before): Security Hub
// imports of several findings are left out, so that every request is one event.
func intakeBodies(tb testing.TB, n int) (bodies [][]byte, ids []string) {
	tb.Helper()
	g, err := NewGenerator(examplesDir, corpusSeed)
	if err != nil {
		tb.Fatal(err)
	}
	seen := map[string]bool{}
	for len(bodies) < n {
		data, _ := g.Corpus(n - len(bodies) + n/4 + 1)
		for line := range bytes.Lines(data) {
			line = bytes.TrimSpace(line)
			evs, err := event.FromJSON(line)
			if err != nil {
				tb.Fatal(err)
			}
			if len(evs) != 1 || seen[evs[0].ID] {
				continue
			}
			seen[evs[0].ID] = true
			bodies, ids = append(bodies, line), append(ids, evs[0].ID)
			if len(bodies) == n {
				break
			}
		}
	}
	return bodies, ids
}

// benchStore opens a migrated, empty store on dialect, closed when tb ends: a SQLite file in
// a temporary directory, or a PostgreSQL schema of its own on storetest's server (the
// FIREBREAK_TEST_POSTGRES URL when set), dropped afterwards. It is storetest.Open for
// benchmarks, which storetest's *testing.T signature does not take.
func benchStore(tb testing.TB, d store.Dialect) *store.Store {
	tb.Helper()
	ctx := context.Background()
	dsn := filepath.Join(tb.TempDir(), "firebreak.db")
	if d == store.Postgres {
		url := os.Getenv("FIREBREAK_TEST_POSTGRES")
		if url == "off" {
			tb.Skip("FIREBREAK_TEST_POSTGRES=off")
		}
		if url == "" {
			url = storetest.PostgresURL
		}
		admin, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Fatalf("PostgreSQL at %s is unreachable (%v); set FIREBREAK_TEST_POSTGRES=off to skip it", url, err)
		}
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		schema := "firebreak_bench_" + hex.EncodeToString(b)
		if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
			admin.Close(ctx)
			tb.Fatal(err)
		}
		// Registered before the store's close, so that it runs after it.
		tb.Cleanup(func() {
			if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				tb.Errorf("drop schema %s: %v", schema, err)
			}
			admin.Close(ctx)
		})
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		dsn = url + sep + "search_path=" + schema
	}
	s, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// intakeEngine builds an engine over s that decides with the starter playbooks and would
// act on the example organisation, simulated. Its workers are not started: incidents are
// opened and their first step enqueued, as Accept always does, but nothing runs, so that
// the intake benchmark measures acceptance alone.
func intakeEngine(tb testing.TB, s *store.Store) *durable.Engine {
	tb.Helper()
	cat := catalog.Default()
	set, err := playbook.LoadDir(starterPlaybooks, cat)
	if err != nil {
		tb.Fatal(err)
	}
	w, err := world.Load(filepath.Join(examplesDir, "..", "world.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	env := &action.Env{Cloud: sim.New(w, sim.Options{}), Notify: &action.RecordingNotifier{}, Cache: &action.Cache{}, Settle: -1}
	// fixedNow keeps the corpus's exceptions judged as the decision benchmarks judge them.
	eng, err := durable.New(s, durable.Config{Decider: decide.New(set, decide.Options{Now: fixedNow}), Catalogue: cat, Env: env})
	if err != nil {
		tb.Fatal(err)
	}
	return eng
}

// intakeServer serves intake's POST /v1/events over loopback until tb ends.
func intakeServer(tb testing.TB, intake server.Intake) string {
	tb.Helper()
	h, err := server.New(server.Options{Intake: intake, APIKeys: []server.APIKey{{Name: "bench", Key: benchAPIKey}}})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(h)
	tb.Cleanup(ts.Close)
	return ts.URL
}

// postResult is what posting a set of bodies measured.
type postResult struct {
	Wall      time.Duration
	Latencies []time.Duration // one per request, sorted
	Accepted  int
}

// quantile returns the q-quantile of sorted latencies (nearest rank).
func (r postResult) quantile(q float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(q*float64(len(r.Latencies))+0.5) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// post sends every body to url's POST /v1/events from clients concurrent clients that each
// keep one connection open. batch is how many events go in one request: 1 as an API
// destination sends them, 10 as a forwarder or an SQS batch does (a JSON array, CONTRACTS
// §1). Every request must be answered 202 with all its events accepted: a refused or
// duplicate event would measure something other than acceptance. Latencies are per
// request.
func post(url string, bodies [][]byte, clients, batch int) (postResult, error) {
	counts := make([]int, len(bodies))
	for i := range counts {
		counts[i] = 1
	}
	if batch > 1 {
		var grouped [][]byte
		counts = counts[:0]
		for i := 0; i < len(bodies); i += batch {
			group := bodies[i:min(i+batch, len(bodies))]
			grouped = append(grouped, append(append([]byte("["), bytes.Join(group, []byte(","))...), ']'))
			counts = append(counts, len(group))
		}
		bodies = grouped
	}
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	var (
		next     atomic.Int64
		accepted atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	lat := make([]time.Duration, len(bodies))
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t0 := time.Now()
				n, err := postOne(hc, url, bodies[i], counts[i])
				lat[i] = time.Since(t0)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("request %d: %w", i, err) })
					next.Store(int64(len(bodies))) // stop the other clients too
					return
				}
				accepted.Add(int64(n))
			}
		})
	}
	wg.Wait()
	res := postResult{Wall: time.Since(start), Latencies: lat, Accepted: int(accepted.Load())}
	slices.Sort(res.Latencies)
	return res, firstErr
}

// postOne posts one body of want events and returns how many the answer says were
// accepted.
func postOne(hc *http.Client, url string, body []byte, want int) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", benchAPIKey)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, data)
	}
	var er server.EventsResponse
	if err := json.Unmarshal(data, &er); err != nil {
		return 0, err
	}
	if er.Accepted != want || er.Duplicates != 0 || len(er.Rejected) != 0 {
		return 0, fmt.Errorf("answer %s, want %d event(s) accepted", data, want)
	}
	return er.Accepted, nil
}

// plainInsert writes every payload into a table of its own (id and payload) in s's
// database, one row per transaction, from writers concurrent writers, through the
// store's own connection pool: the rate the database itself sustains for durable
// single-event writes on this machine, which the intake is measured against.
func plainInsert(ctx context.Context, s *store.Store, ids []string, payloads [][]byte, writers int) (time.Duration, error) {
	const table = `CREATE TABLE plain_events (id TEXT PRIMARY KEY, payload TEXT NOT NULL)`
	var insert func(id string, payload []byte) error
	switch s.Dialect() {
	case store.Postgres:
		pool := s.Pool()
		if _, err := pool.Exec(ctx, table); err != nil {
			return 0, err
		}
		insert = func(id string, payload []byte) error {
			tx, err := pool.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, "INSERT INTO plain_events (id, payload) VALUES ($1, $2)", id, string(payload)); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}
	default:
		db := s.DB()
		if _, err := db.ExecContext(ctx, table); err != nil {
			return 0, err
		}
		insert = func(id string, payload []byte) error {
			tx, err := db.BeginTx(ctx, &sql.TxOptions{})
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			if _, err := tx.ExecContext(ctx, "INSERT INTO plain_events (id, payload) VALUES (?, ?)", id, string(payload)); err != nil {
				return err
			}
			return tx.Commit()
		}
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(payloads) {
					return
				}
				if err := insert(ids[i], payloads[i]); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("insert %d: %w", i, err) })
					next.Store(int64(len(payloads)))
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// intakeOutcome is what one intake run measured.
type intakeOutcome struct {
	Events    int
	Incidents int // opened by the events, their first step enqueued
	Intake    postResult
	Plain     time.Duration
}

// Rate is durable acceptance's events per second.
func (o intakeOutcome) Rate() float64 { return float64(o.Events) / o.Intake.Wall.Seconds() }

// PlainRate is plain inserts per second.
func (o intakeOutcome) PlainRate() float64 { return float64(o.Events) / o.Plain.Seconds() }

// Ratio is the intake's rate over plain inserts': the goal is at least 0.5.
func (o intakeOutcome) Ratio() float64 { return o.Rate() / o.PlainRate() }

// runIntake measures, on s, plain inserts of the bodies and then their intake through the
// HTTP handler and an engine whose workers are stopped. Both write to the same database,
// one after the other, in the same process.
func runIntake(tb testing.TB, s *store.Store, bodies [][]byte, ids []string, batch int) intakeOutcome {
	tb.Helper()
	ctx := context.Background()
	out := intakeOutcome{Events: len(bodies)}
	var err error
	if out.Plain, err = plainInsert(ctx, s, ids, bodies, intakeClients); err != nil {
		tb.Fatal(err)
	}
	url := intakeServer(tb, intakeEngine(tb, s))
	if out.Intake, err = post(url, bodies, intakeClients, batch); err != nil {
		tb.Fatal(err)
	}
	if out.Intake.Accepted != len(bodies) {
		tb.Fatalf("%d events accepted, want %d", out.Intake.Accepted, len(bodies))
	}
	if out.Incidents, err = countIncidents(ctx, s, ""); err != nil {
		tb.Fatal(err)
	}
	return out
}

// countIncidents counts the store's incidents, those in state only unless it is empty.
func countIncidents(ctx context.Context, s *store.Store, state string) (int, error) {
	n := 0
	err := s.Read(ctx, func(tx *store.Tx) error {
		if state == "" {
			return tx.QueryRow(ctx, "SELECT count(*) FROM incidents").Scan(&n)
		}
		return tx.QueryRow(ctx, "SELECT count(*) FROM incidents WHERE state = ?", state).Scan(&n)
	})
	return n, err
}

// BenchmarkIntake posts 10,000 distinct corpus events from 16 clients over loopback to the
// HTTP intake backed by the engine (starter playbooks, workers stopped) and the store, and
// in the same run inserts the same payloads into a plain table of the same database from
// 16 writers, one row per transaction. It reports the intake's events/s and per-request
// latency quantiles, the plain inserts' rate and the ratio of the two (goal: at least
// 0.5). The events go one per request (batch=1, as EventBridge API destinations send
// them) and ten per request (batch=10, as a forwarder or an SQS batch delivers them).
// One iteration is the whole run.
func BenchmarkIntake(b *testing.B) {
	if testing.Short() {
		b.Skip("posts 10,000 events per database")
	}
	bodies, ids := intakeBodies(b, intakeEvents)
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		for _, batch := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/batch=%d", d, batch), func(b *testing.B) {
				var out intakeOutcome
				for range b.N {
					out = runIntake(b, benchStore(b, d), bodies, ids, batch)
				}
				b.ReportMetric(out.Rate(), "events/s")
				b.ReportMetric(out.PlainRate(), "plain-inserts/s")
				b.ReportMetric(out.Ratio(), "ratio")
				b.ReportMetric(float64(out.Intake.quantile(0.5).Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(out.Intake.quantile(0.99).Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(out.Incidents), "incidents")
				b.ReportMetric(0, "ns/op") // one iteration is the whole run; its time is in events/s
			})
		}
	}
}

// TestIntakeSmoke runs the intake benchmark's machinery on 40 events against each
// database, one and ten a request: every event is accepted once, and the plain table takes every payload. It
// checks the machinery, not its speed.
func TestIntakeSmoke(t *testing.T) {
	bodies, ids := intakeBodies(t, 40)
	for _, batch := range []int{1, 10} {
		storetest.Each(t, func(t *testing.T, s *store.Store) {
			out := runIntake(t, s, bodies, ids, batch)
			if out.Intake.quantile(0.99) <= 0 || out.Plain <= 0 {
				t.Errorf("nothing measured: %+v", out)
			}
			var plain int
			if err := s.Read(context.Background(), func(tx *store.Tx) error {
				return tx.QueryRow(context.Background(), "SELECT count(*) FROM plain_events").Scan(&plain)
			}); err != nil || plain != len(bodies) {
				t.Errorf("plain table holds %d rows (%v), want %d", plain, err, len(bodies))
			}
			t.Logf("%d events, %d a request: %.0f/s intake, %.0f/s plain, ratio %.2f, p99 %v, %d incidents",
				out.Events, batch, out.Rate(), out.PlainRate(), out.Ratio(), out.Intake.quantile(0.99), out.Incidents)
		})
	}
}
