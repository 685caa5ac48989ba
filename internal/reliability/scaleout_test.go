package reliability

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
	"github.com/firebreak-sec/firebreak/internal/store/storetest"
)

// postgresDSN creates a schema of its own on the test PostgreSQL server, dropped when the
// test ends, and returns a URL whose connections use it.
func postgresDSN(t *testing.T) string {
	t.Helper()
	url := os.Getenv("FIREBREAK_TEST_POSTGRES")
	if url == "off" {
		t.Skip("FIREBREAK_TEST_POSTGRES=off")
	}
	if url == "" {
		url = storetest.PostgresURL
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("PostgreSQL at %s is unreachable (%v): start it, point FIREBREAK_TEST_POSTGRES at another URL, or set FIREBREAK_TEST_POSTGRES=off", url, err)
	}
	b := make([]byte, 6)
	_, _ = crand.Read(b)
	schema := "firebreak_reliability_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close(ctx)
		t.Fatalf("create schema %s: %v", schema, err)
	}
	// Registered before the servers' cleanups, so it runs after they have stopped.
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close(ctx)
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// TestScaleOut runs two `firebreak serve` replicas on one PostgreSQL database and one moto,
// delivers every event three times spread over both, and kills one replica with SIGKILL
// halfway through. The other must take over its deliveries and its queued steps: exactly
// one incident per finding, every step completed once, nothing made twice in the cloud.
func TestScaleOut(t *testing.T) {
	n := size(200, 1000)
	ctx := context.Background()
	dsn := postgresDSN(t)
	rng := rand.New(rand.NewPCG(seed(t), 2))
	bin := buildFirebreak(t)
	url, _ := moto.Start(t)
	org, err := moto.Seed(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	fs := seedInstances(ctx, t, org, n, "scale")
	pb := playbookDir(t)
	replicas := []*server{
		newServer(t, "replica-a", bin, motoEnv(url), "--playbooks", pb, "--data-dir", t.TempDir(), "--database", dsn),
		newServer(t, "replica-b", bin, motoEnv(url), "--playbooks", pb, "--data-dir", t.TempDir(), "--database", dsn),
	}
	for _, r := range replicas {
		r.start()
	}
	start := time.Now()

	// Every event three times, in a random order, each delivery to a random replica, in
	// batches of ten as a forwarder would send them.
	type delivery struct {
		event   int
		replica int
	}
	var deliveries []delivery
	for range 3 {
		for i := range fs {
			deliveries = append(deliveries, delivery{i, rng.IntN(len(replicas))})
		}
	}
	rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
	const batch = 10
	batches := make(chan []delivery)
	var (
		posts, failed, accepted, duplicates atomic.Int64
		dead                                atomic.Bool // replica 0 has been killed
		wg                                  sync.WaitGroup
	)
	client := &http.Client{Timeout: 60 * time.Second}
	for range 4 {
		wg.Go(func() {
			for b := range batches {
				evs := make([]json.RawMessage, len(b))
				for i, d := range b {
					evs[i] = eventJSON(fs[d.event])
				}
				target := b[0].replica
				deadline := time.Now().Add(5 * time.Minute)
				for {
					if target == 0 && dead.Load() {
						target = 1
					}
					posts.Add(1)
					ans, err := post(ctx, client, replicas[target].url(), evs)
					if err == nil {
						accepted.Add(int64(ans.Accepted))
						duplicates.Add(int64(ans.Duplicates))
						break
					}
					if errors.Is(err, errRejected) {
						t.Errorf("events rejected: %v", err)
						break
					}
					failed.Add(1)
					if time.Now().After(deadline) {
						t.Errorf("batch not accepted within 5 minutes: %v", err)
						break
					}
					// The other replica, as a load balancer would retry.
					target = 1 - target
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for i := 0; i < len(deliveries); i += batch {
		if i >= len(deliveries)/2 && !dead.Load() {
			// Killed mid-delivery and with steps of its own running or queued.
			replicas[0].kill()
			dead.Store(true)
		}
		batches <- deliveries[i:min(i+batch, len(deliveries))]
	}
	close(batches)
	wg.Wait()
	delivered := time.Since(start)

	t.Logf("%d events delivered 3 times each to 2 replicas (one killed halfway) in %v: %d POSTs, %d failed and retried; %d accepted, %d duplicates answered",
		len(fs), delivered.Round(time.Millisecond), posts.Load(), failed.Load(), accepted.Load(), duplicates.Load())
	// moto answers the steps' calls from one Python process: at full size, on a machine
	// shared with other work, settling has taken from two to four minutes.
	waitStore(t, dsn, len(fs), max(4*time.Minute, time.Duration(len(fs))*600*time.Millisecond))
	elapsed := time.Since(start)
	replicas[1].stop()

	sc := checkStore(t, dsn, fs)
	cc := checkCloud(ctx, t, org, fs)
	if got := accepted.Load(); got != int64(len(fs)) {
		t.Errorf("replicas accepted %d events in all, want %d: each once", got, len(fs))
	}
	sum := auditVerify(t, bin, "--database", dsn)
	t.Logf("%d duplicate deliveries recorded in the audit chain", sc.Duplicate)
	t.Logf("%d incidents contained in %v; %d steps completed once each after %d attempts; %d events stored; moto: %d volumes with %d snapshots, %d isolation groups; %s",
		sc.Incidents, elapsed.Round(time.Millisecond), sc.Steps, sc.Attempts, sc.Events, cc.Volumes, cc.Snapshots, cc.Groups, sum)
}
