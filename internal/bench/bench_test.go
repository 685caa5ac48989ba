package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/event"
)

const (
	corpusValues = 10_000
	corpusSeed   = 20251103
	librarySeed  = 7
)

// librarySizes are the playbook counts BenchmarkReplay runs at: the starter library with a
// few additions, a department's library, and a large organisation's.
var librarySizes = []int{20, 200, 2000}

// minRatio is the least acceptable replay throughput as a fraction of plain decoding of the
// same bytes: reading, normalising and deciding may cost at most twice what decoding alone
// costs, so that the decision engine never becomes the bottleneck of an intake.
const minRatio = 0.5

var fixture struct {
	once   sync.Once
	err    error
	corpus []byte
	stats  CorpusStats
	events int // normalised events in the corpus (a Security Hub import holds several)

	mu      sync.Mutex
	engines map[int]*decide.Engine

	// decodeWall and decodeCPU are the elapsed and CPU time BenchmarkDecodeMap last
	// measured for one pass over the corpus, so that BenchmarkReplay can report its ratio
	// from the same process.
	decodeWall, decodeCPU time.Duration
}

// corpus returns the benchmark corpus and how many events it holds.
func corpus(tb testing.TB) ([]byte, int) {
	tb.Helper()
	fixture.once.Do(func() {
		g, err := NewGenerator(examplesDir, corpusSeed)
		if err != nil {
			fixture.err = err
			return
		}
		fixture.corpus, fixture.stats = g.Corpus(corpusValues)
		fixture.events, fixture.err = countEvents(fixture.corpus)
	})
	if fixture.err != nil {
		tb.Fatal(fixture.err)
	}
	return fixture.corpus, fixture.events
}

// countEvents scans data and fails on the first rejected value: a corpus the reader
// rejects would measure error handling, not deciding.
func countEvents(data []byte) (int, error) {
	n := 0
	err := event.Scan(context.Background(), "corpus", bytes.NewReader(data), func(*event.Event) error {
		n++
		return nil
	}, nil)
	return n, err
}

// engine returns an engine over a generated library of n playbooks, built once per size.
func engine(tb testing.TB, n int) *decide.Engine {
	tb.Helper()
	fixture.mu.Lock()
	defer fixture.mu.Unlock()
	if e, ok := fixture.engines[n]; ok {
		return e
	}
	if fixture.engines == nil {
		fixture.engines = map[int]*decide.Engine{}
	}
	e := decide.New(library(tb, n, librarySeed), decide.Options{Now: fixedNow})
	fixture.engines[n] = e
	return e
}

// fixedNow keeps exception expiry judged at one instant, so that runs on different days
// decide alike.
func fixedNow() time.Time { return time.Date(2025, 11, 15, 12, 0, 0, 0, time.UTC) }

// decodePass decodes every value of data into a map[string]any, numbers kept as written
// (as the reader decodes envelopes), and nothing else: the floor replay is measured against.
func decodePass(data []byte) (values int, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return values, nil
		} else if err != nil {
			return values, err
		}
		values++
	}
}

// replayPass reads, normalises and decides every event of data, as `firebreak replay`
// does without printing, and returns how many events and decisions there were.
func replayPass(ctx context.Context, e *decide.Engine, data []byte) (events, decisions int, err error) {
	err = event.Scan(ctx, "corpus", bytes.NewReader(data), func(ev *event.Event) error {
		events++
		decisions += len(e.Decide(ctx, ev, nil))
		return nil
	}, nil)
	return events, decisions, err
}

func BenchmarkDecodeMap(b *testing.B) {
	data, events := corpus(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	mallocs, cpu := mallocCount(), cpuTime()
	passes := 0
	for b.Loop() {
		if _, err := decodePass(data); err != nil {
			b.Fatal(err)
		}
		passes++
	}
	mallocs, cpu = mallocCount()-mallocs, cpuTime()-cpu
	perPass := b.Elapsed() / time.Duration(passes)
	fixture.mu.Lock()
	fixture.decodeWall, fixture.decodeCPU = perPass, cpuPerPass(cpu, b.Elapsed(), passes)
	fixture.mu.Unlock()
	b.ReportMetric(float64(events)/perPass.Seconds(), "events/s")
	b.ReportMetric(float64(mallocs)/float64(passes*events), "allocs/event")
}

func BenchmarkReplay(b *testing.B) {
	data, events := corpus(b)
	for _, n := range librarySizes {
		b.Run("playbooks="+strconv.Itoa(n), func(b *testing.B) {
			e := engine(b, n)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			mallocs, cpu := mallocCount(), cpuTime()
			passes, decisions := 0, 0
			for b.Loop() {
				evs, ds, err := replayPass(ctx, e, data)
				if err != nil || evs != events {
					b.Fatalf("replayed %d of %d events: %v", evs, events, err)
				}
				passes++
				decisions += ds
			}
			mallocs, cpu = mallocCount()-mallocs, cpuTime()-cpu
			perPass := b.Elapsed() / time.Duration(passes)
			b.ReportMetric(float64(events)/perPass.Seconds(), "events/s")
			b.ReportMetric(float64(decisions)/float64(passes)/perPass.Seconds(), "decisions/s")
			b.ReportMetric(float64(mallocs)/float64(passes*events), "allocs/event")
			wall, cpuBase := decodeBaseline(b, data)
			b.ReportMetric(wall.Seconds()/perPass.Seconds(), "ratio")
			b.ReportMetric(cpuBase.Seconds()/cpuPerPass(cpu, b.Elapsed(), passes).Seconds(), "cpu-ratio")
		})
	}
}

// cpuPerPass is the CPU time of one pass, or its elapsed time where the platform does not
// report CPU time. The ratio of CPU times ("cpu-ratio") compares work done rather than the
// share of a busy machine each benchmark happened to get; on an idle machine it differs
// from the ratio of elapsed times only by how well the garbage collector's work overlaps.
func cpuPerPass(cpu, elapsed time.Duration, passes int) time.Duration {
	if cpu <= 0 {
		cpu = elapsed
	}
	return cpu / time.Duration(passes)
}

// decodeBaseline is the decoding time per corpus pass, elapsed and CPU, measured in this
// process: what BenchmarkDecodeMap found or, when it was not selected, a measurement made
// now.
func decodeBaseline(tb testing.TB, data []byte) (wall, cpu time.Duration) {
	fixture.mu.Lock()
	wall, cpu = fixture.decodeWall, fixture.decodeCPU
	fixture.mu.Unlock()
	if wall > 0 {
		return wall, cpu
	}
	// testing.Benchmark cannot run inside a benchmark, so time enough passes by hand.
	passes, start, c := 0, time.Now(), cpuTime()
	for passes < 3 || time.Since(start) < time.Second {
		if _, err := decodePass(data); err != nil {
			tb.Fatal(err)
		}
		passes++
	}
	elapsed := time.Since(start)
	wall, cpu = elapsed/time.Duration(passes), cpuPerPass(cpuTime()-c, elapsed, passes)
	fixture.mu.Lock()
	fixture.decodeWall, fixture.decodeCPU = wall, cpu
	fixture.mu.Unlock()
	return wall, cpu
}

func mallocCount() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// TestReportRatio measures plain decoding and replay at every library size in one
// process and checks replay keeps at least minRatio of decoding's throughput. It takes
// tens of seconds, so it runs only when FIREBREAK_BENCH_RATIO is set:
//
//	FIREBREAK_BENCH_RATIO=1 go test ./internal/bench -run TestReportRatio -v
func TestReportRatio(t *testing.T) {
	if os.Getenv("FIREBREAK_BENCH_RATIO") == "" {
		t.Skip("set FIREBREAK_BENCH_RATIO=1 to measure")
	}
	data, events := corpus(t)
	ctx := context.Background()
	dec := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := decodePass(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	decodeRate := float64(events) * float64(dec.N) / dec.T.Seconds()
	t.Logf("%d values, %d events, %d bytes; decode: %.0f events/s, %.1f allocs/event",
		fixture.stats.Values, events, len(data), decodeRate, float64(dec.MemAllocs)/float64(dec.N*events))
	for _, n := range librarySizes {
		e := engine(t, n)
		decisions := 0
		res := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				_, ds, err := replayPass(ctx, e, data)
				if err != nil {
					b.Fatal(err)
				}
				decisions = ds
			}
		})
		rate := float64(events) * float64(res.N) / res.T.Seconds()
		ratio := rate / decodeRate
		t.Logf("playbooks=%-5d %8.0f events/s %9.0f decisions/s %6.1f allocs/event ratio %.2f",
			n, rate, float64(decisions)*float64(res.N)/res.T.Seconds(), float64(res.MemAllocs)/float64(res.N*events), ratio)
		if ratio < minRatio {
			t.Errorf("playbooks=%d: replay runs at %.2f of plain decoding, want at least %.2f", n, ratio, minRatio)
		}
	}
}

// TestCorpus checks the corpus is what the benchmarks claim: large enough, every value
// readable, the same bytes for the same seed, every family present, and a share of events
// that the starter library acts on.
func TestCorpus(t *testing.T) {
	data, events := corpus(t)
	if events < 10_000 {
		t.Errorf("corpus holds %d events, want at least 10000", events)
	}
	for _, kind := range []string{"guardduty", "securityhub", "cloudtrail", "signin", "health", "cloudwatch", "custom"} {
		if fixture.stats.ByKind[kind] == 0 {
			t.Errorf("corpus has no %s values", kind)
		}
	}
	g, err := NewGenerator(examplesDir, corpusSeed)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := g.Corpus(corpusValues)
	if !bytes.Equal(data, again) {
		t.Error("the corpus differs between two generations from the same seed")
	}

	e := engine(t, 20)
	acted, outcomes := 0, map[decide.Outcome]int{}
	err = event.Scan(context.Background(), "corpus", bytes.NewReader(data), func(ev *event.Event) error {
		ds := e.Decide(context.Background(), ev, nil)
		if len(ds) > 0 {
			acted++
		}
		for _, d := range ds {
			outcomes[d.Outcome]++
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The starter library should act on a minority of events, as in real traffic, yet on
	// enough of them that the decision path is measured too.
	if share := float64(acted) / float64(events); share < 0.05 || share > 0.6 {
		t.Errorf("%.0f%% of events match a starter playbook, want between 5%% and 60%%", 100*share)
	}
	if outcomes[decide.Planned] == 0 || outcomes[decide.Skipped] == 0 {
		t.Errorf("outcomes %v: want both planned and skipped decisions", outcomes)
	}
	t.Logf("%d values (%v), %d events, %d bytes; %d events matched at 20 playbooks, outcomes %v",
		fixture.stats.Values, fixture.stats.ByKind, events, len(data), acted, outcomes)
}

// TestLibrary checks every generated library size loads with the intended count and that
// conditions are among what was generated.
func TestLibrary(t *testing.T) {
	set := library(t, 200, librarySeed)
	withWhen, sources := 0, map[string]bool{}
	for _, p := range set.Playbooks {
		if p.When != nil {
			withWhen++
		}
		if vs, ok := p.On.ExactValues("source"); ok {
			for _, v := range vs {
				sources[v] = true
			}
		}
	}
	if withWhen == 0 || len(sources) < 10 {
		t.Errorf("%d playbooks with when, %d distinct sources: the library is too uniform", withWhen, len(sources))
	}
	t.Logf("%d playbooks, %d with when, %d sources", len(set.Playbooks), withWhen, len(sources))
}
