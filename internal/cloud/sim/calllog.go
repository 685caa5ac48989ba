package sim

import (
	"sort"
	"time"
)

// Call is one logged API call. Code is the AWS error code, empty on success.
type Call struct {
	Account, Region, Service, Operation string
	Start, End                          time.Time
	Code                                string
}

func (o *Org) record(c Call) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, c)
}

// Calls returns a copy of the call log, in the order the calls ended.
func (o *Org) Calls() []Call {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Call(nil), o.calls...)
}

// ResetCalls empties the call log.
func (o *Org) ResetCalls() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = nil
}

// CountCalls counts the logged calls that match: empty arguments match anything.
func (o *Org) CountCalls(account, service, op string) int {
	n := 0
	for _, c := range o.Calls() {
		if (account == "" || c.Account == account) && (service == "" || c.Service == service) && (op == "" || c.Operation == op) {
			n++
		}
	}
	return n
}

// RoundTrips is the number of serial round trips among the calls that started at or after
// from and ended at or before to: the length of the longest chain of calls each of which
// started after the previous one ended. Calls made in parallel count once. Without
// injected latency, calls into one account serialise on its lock and may not overlap, so
// measure with a Fault that adds Latency.
func (o *Org) RoundTrips(from, to time.Time) int {
	var in []Call
	for _, c := range o.Calls() {
		if !c.Start.Before(from) && !c.End.After(to) {
			in = append(in, c)
		}
	}
	// The longest chain of non-overlapping intervals is found greedily by earliest end.
	sort.Slice(in, func(i, j int) bool { return in[i].End.Before(in[j].End) })
	n := 0
	var last time.Time
	for _, c := range in {
		if n == 0 || !c.Start.Before(last) {
			n++
			last = c.End
		}
	}
	return n
}
