package pattern

import (
	"bytes"
	"errors"
	"testing"
)

var fuzzEvents = []string{
	docEC2Event, docAutoScalingEvent, docMacieEvent, docNoStateEvent, docComplexEvent, benchEvent,
	`{"a":[1,"x",null,true,{"b":[{"c":"10.0.0.1"}]}],"b":{"c":[[5.5e0]]},"$or":{"a":"1"}}`,
}

func FuzzCompile(f *testing.F) {
	for _, tc := range docCases {
		f.Add([]byte(tc.pattern))
	}
	for _, tc := range edgeCases {
		f.Add([]byte(tc.pattern))
	}
	f.Add([]byte(orBomb()))
	f.Add([]byte(`{"a":[{"numeric":[">",1e999]}]}`))
	f.Add([]byte(`{"a":[{"wildcard":"\\"}]}`))
	events := make([]map[string]any, len(fuzzEvents))
	for i, s := range fuzzEvents {
		events[i] = decodeEvent(f, s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		p, err := Compile(src)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %T is not *Error", err)
			}
			_ = perr.Error()
			return
		}
		for _, ev := range events {
			p.Match(ev)
		}
		p.ExactValues("source")
		p.ExactValues("a")
	})
}

// FuzzMatch checks the compiled matcher against the reference evaluator on
// arbitrary patterns and events. Patterns using cidr are only checked for
// panics: the reference relies on package net, which treats IPv4-mapped IPv6
// prefixes differently from net/netip, and EventBridge documents neither.
func FuzzMatch(f *testing.F) {
	for i, tc := range docCases {
		f.Add([]byte(tc.pattern), []byte(tc.event))
		f.Add([]byte(tc.pattern), []byte(fuzzEvents[i%len(fuzzEvents)]))
	}
	for _, tc := range edgeCases {
		f.Add([]byte(tc.pattern), []byte(tc.event))
	}
	f.Fuzz(func(t *testing.T, pat, event []byte) {
		got, err := MatchJSON(pat, event)
		if err != nil {
			return
		}
		if bytes.Contains(pat, []byte("cidr")) {
			return
		}
		decodedPat, _ := decodeJSON(pat)
		ev, _ := decodeJSON(event)
		if want := refMatch(decodedPat.(map[string]any), ev.(map[string]any)); got != want {
			t.Fatalf("Match = %v, reference = %v\npattern: %s\nevent: %s", got, want, pat, event)
		}
	})
}
