package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/cloud/moto"
)

// TestCrash kills `firebreak serve` with SIGKILL at random moments while events arrive and
// steps run against moto, starting it again on the same data directory each time. Events
// whose delivery failed are delivered again, as EventBridge does, and some are delivered
// twice regardless. Afterwards every incident must be contained exactly once, every event
// stored, no snapshot or isolation group made twice, and the audit chain intact.
func TestCrash(t *testing.T) {
	const incidents = 100
	kills := size(5, 24)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed(t), 1))
	bin := buildFirebreak(t)
	url, _ := moto.Start(t)
	org, err := moto.Seed(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	fs := seedInstances(ctx, t, org, incidents, "crash")
	data := t.TempDir()
	srv := newServer(t, "serve", bin, motoEnv(url), "--playbooks", playbookDir(t), "--data-dir", data)
	srv.start()
	start := time.Now()

	// The killer takes its moments from the seeded generator before anything runs, so that
	// the deliverers' use of it cannot change them.
	pauses := make([]time.Duration, kills)
	for i := range pauses {
		pauses[i] = time.Duration(100+rng.IntN(1900)) * time.Millisecond
	}
	order := rng.Perm(len(fs))
	redeliver := map[int]bool{}
	for _, i := range rng.Perm(len(fs))[:len(fs)/5] {
		redeliver[i] = true
	}

	var (
		posts, failed, duplicates atomic.Int64
		wg                        sync.WaitGroup
	)
	jobs := make(chan int)
	client := &http.Client{Timeout: 30 * time.Second}
	deliver := func(ev json.RawMessage) {
		deadline := time.Now().Add(5 * time.Minute)
		for {
			posts.Add(1)
			ans, err := post(ctx, client, srv.url(), []json.RawMessage{ev})
			if err == nil {
				duplicates.Add(int64(ans.Duplicates))
				return
			}
			if errors.Is(err, errRejected) {
				t.Errorf("event rejected: %v", err)
				return
			}
			failed.Add(1)
			if time.Now().After(deadline) {
				t.Errorf("event not accepted within 5 minutes: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for range 3 {
		wg.Go(func() {
			for i := range jobs {
				ev := eventJSON(fs[i])
				deliver(ev)
				if redeliver[i] {
					deliver(ev)
				}
				time.Sleep(40 * time.Millisecond)
			}
		})
	}
	var killed atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for _, p := range pauses {
			time.Sleep(p)
			srv.kill()
			killed.Add(1)
			srv.start()
		}
	}()
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	delivered := time.Since(start)
	<-killerDone

	t.Logf("%d kills survived (%d starts); %d events delivered in %v with %d POSTs, %d of them failed and retried; %d duplicates answered",
		killed.Load(), srv.starts, len(fs), delivered.Round(time.Millisecond), posts.Load(), failed.Load(), duplicates.Load())
	waitStore(t, filepath.Join(data, "firebreak.db"), len(fs), 4*time.Minute)
	elapsed := time.Since(start)
	srv.stop()

	sc := checkStore(t, filepath.Join(data, "firebreak.db"), fs)
	cc := checkCloud(ctx, t, org, fs)
	sum := auditVerify(t, bin, "--data-dir", data)
	t.Logf("%d duplicate deliveries recorded in the audit chain", sc.Duplicate)
	t.Logf("%d incidents contained in %v; %d steps done once each after %d attempts; %d events stored; moto: %d volumes with %d snapshots, %d isolation groups; %s",
		sc.Incidents, elapsed.Round(time.Millisecond), sc.Steps, sc.Attempts, sc.Events, cc.Volumes, cc.Snapshots, cc.Groups, sum)
}
