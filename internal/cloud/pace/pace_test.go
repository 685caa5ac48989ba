package pace

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/cloud/sim"
	"github.com/firebreak-sec/firebreak/internal/world"
)

const region = "us-east-1"

func org(opts sim.Options, accounts ...string) *sim.Org {
	w := &world.World{}
	for _, id := range accounts {
		w.Accounts = append(w.Accounts, &world.Account{ID: id, Regions: map[string]*world.Region{region: {}}})
	}
	return sim.New(w, opts)
}

// clients returns every service client p hands out for account, by the name of the
// Provider method that made it.
func clients(t *testing.T, p cloud.Provider, account string) map[string]reflect.Value {
	t.Helper()
	out := map[string]reflect.Value{}
	pv := reflect.ValueOf(p)
	pt := reflect.TypeFor[cloud.Provider]()
	for i := range pt.NumMethod() {
		m := pt.Method(i)
		args := []reflect.Value{reflect.ValueOf(context.Background()), reflect.ValueOf(account)}
		if m.Type.NumIn() == 3 {
			args = append(args, reflect.ValueOf(region))
		}
		res := pv.MethodByName(m.Name).Call(args)
		if err, _ := res[1].Interface().(error); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		out[m.Name] = res[0]
	}
	return out
}

// TestEveryOperationIsPaced calls every operation of every client once with a cancelled
// context, which must stop it in the pacer before it reaches the service, and once with a
// live one, which must reach the same-named operation of the wrapped client.
func TestEveryOperationIsPaced(t *testing.T) {
	const account = "111111111111"
	o := org(sim.Options{}, account)
	p := New(o, Options{Rate: 1e6})
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	ops := 0
	for service, c := range clients(t, p, account) {
		for i := range c.NumMethod() {
			name := c.Type().Method(i).Name
			m := c.Method(i)
			in := reflect.Zero(m.Type().In(1)) // a nil input: the simulation answers it with a validation error
			res := m.Call([]reflect.Value{reflect.ValueOf(cancelled), in})
			if err, _ := res[1].Interface().(error); !errors.Is(err, context.Canceled) {
				t.Errorf("%s.%s with a cancelled context: %v, want context.Canceled from the pacer", service, name, err)
			}
			if n := len(o.Calls()); n != 0 {
				t.Fatalf("%s.%s reached the service without waiting for its slot", service, name)
			}
			m.Call([]reflect.Value{reflect.ValueOf(context.Background()), in})
			calls := o.Calls()
			if len(calls) != 1 || calls[0].Operation != name || calls[0].Account != account {
				t.Fatalf("%s.%s called %+v, want %s once in %s", service, name, calls, name, account)
			}
			o.ResetCalls()
			ops++
		}
	}
	if ops < 80 {
		t.Errorf("only %d operations were found; the cloud interfaces list about 90", ops)
	}
}

// TestSchedule checks the token bucket's arithmetic: a burst at once, then one call per
// interval, and an idle account earning its burst back.
func TestSchedule(t *testing.T) {
	l := newLimiter(Options{Rate: 10, Burst: 3})
	t0 := time.Unix(1000, 0)
	var got []time.Duration
	for range 6 {
		got = append(got, l.reserve(t0).Sub(t0))
	}
	want := []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("slots %v, want %v", got, want)
	}
	t1 := t0.Add(10 * time.Second)
	for i := range 3 {
		if d := l.reserve(t1).Sub(t1); d != 0 {
			t.Errorf("after an idle spell, call %d waits %v; the burst should be back", i, d)
		}
	}
}

// TestThrottlingSlowsOnlyItsAccount throttles every call into one account: that account's
// schedule slows down, within its bound, and the other account keeps the configured rate.
func TestThrottlingSlowsOnlyItsAccount(t *testing.T) {
	const hot, cool = "111111111111", "222222222222"
	o := org(sim.Options{Faults: []sim.Fault{{Account: hot, ThrottleRate: 1}}}, hot, cool)
	p := New(o, Options{Rate: 1000, Retries: 2})
	ctx := context.Background()
	for _, account := range []string{hot, cool} {
		c, err := p.EC2(ctx, account, region)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			_, err := c.DescribeInstances(ctx, nil)
			if account == cool && err != nil {
				t.Fatalf("%s: %v", account, err)
			}
			if account == hot && cloud.Classify(err) != cloud.Throttled {
				t.Fatalf("%s: %v, want the throttling error once retries are spent", account, err)
			}
		}
	}
	if n, want := o.CountCalls(hot, "", ""), 30; n != want {
		t.Errorf("%d calls into the throttled account, want %d (10 calls, each sent 3 times)", n, want)
	}
	hl, cl := p.limiter(hot), p.limiter(cool)
	if hl.interval != hl.base*maxSlowdown {
		t.Errorf("throttled account's interval %v, want it slowed to %v", hl.interval, hl.base*maxSlowdown)
	}
	if cl.interval != cl.base {
		t.Errorf("other account's interval %v, want the configured %v", cl.interval, cl.base)
	}
}

// TestMeetsTheServiceRate sends concurrent calls into two accounts limited by the service
// to the pacer's rate: almost none may be throttled, every call must succeed, and the
// calls must have been spread out rather than sent at once.
func TestMeetsTheServiceRate(t *testing.T) {
	const rate, perAccount = 100, 40
	accounts := []string{"111111111111", "222222222222"}
	o := org(sim.Options{RateLimit: rate, Burst: 3}, accounts...)
	p := New(o, Options{Rate: rate, Retries: 3})
	ctx := context.Background()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, perAccount*len(accounts))
	for _, account := range accounts {
		c, err := p.EC2(ctx, account, region)
		if err != nil {
			t.Fatal(err)
		}
		for range 4 {
			wg.Go(func() {
				for range perAccount / 4 {
					if _, err := c.DescribeInstances(ctx, nil); err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Errorf("call failed: %v", err)
	}
	// Lower bound only: a loaded machine may take longer, never shorter.
	if floor := time.Duration(perAccount-1) * time.Second / rate; elapsed < floor {
		t.Errorf("%d calls per account took %v; paced at %d/s they take at least %v", perAccount, elapsed, rate, floor)
	}
	throttled := 0
	for _, c := range o.Calls() {
		if c.Code != "" {
			throttled++
		}
	}
	if throttled > perAccount*len(accounts)/10 {
		t.Errorf("%d of %d calls throttled; pacing at the service's rate should leave almost none", throttled, perAccount*len(accounts))
	}
}

// TestAdaptsToALowerLimit sets the pacer four times faster than the service allows: the
// schedule must slow down, and retries in later slots must still get every call through.
func TestAdaptsToALowerLimit(t *testing.T) {
	const account = "111111111111"
	o := org(sim.Options{RateLimit: 50, Burst: 1}, account)
	p := New(o, Options{Rate: 200, Retries: 8})
	ctx := context.Background()
	c, err := p.EC2(ctx, account, region)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if _, err := c.DescribeInstances(ctx, nil); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if l := p.limiter(account); l.interval <= l.base {
		t.Errorf("interval %v after throttling, want it above the configured %v", l.interval, l.base)
	}
}

// TestUnpaced passes calls straight through when no rate is set.
func TestUnpaced(t *testing.T) {
	const account = "111111111111"
	o := org(sim.Options{}, account)
	c, err := New(o, Options{}).EC2(context.Background(), account, region)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := c.DescribeInstances(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeniedAccount passes the provider's own error through and hands out no client.
func TestDeniedAccount(t *testing.T) {
	const account = "111111111111"
	o := org(sim.Options{DenyAssumeRole: []string{account}}, account)
	c, err := New(o, Options{Rate: 10}).EC2(context.Background(), account, region)
	if err == nil || c != nil {
		t.Fatalf("got %v, %v; want the AssumeRole error and no client", c, err)
	}
}
