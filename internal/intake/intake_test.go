package intake_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/firebreak-sec/firebreak/internal/event"
	"github.com/firebreak-sec/firebreak/internal/intake"
	"github.com/firebreak-sec/firebreak/internal/store"
)

const good = `{"version":"0","id":"ev-1","detail-type":"Scan Result","source":"com.example.scanner",` +
	`"account":"111122223333","time":"2026-03-01T10:00:00Z","region":"us-east-1","resources":[],"detail":{}}`

type intakeFunc func([]*event.Event) (int, int, error)

func (f intakeFunc) Accept(_ context.Context, evs []*event.Event, _ string) (int, int, error) {
	return f(evs)
}

type deadLetterFunc func(store.DeadLetter) error

func (f deadLetterFunc) RecordDeadLetter(_ context.Context, d store.DeadLetter) error { return f(d) }

func TestDeliver(t *testing.T) {
	down := errors.New("database is unavailable")
	var order []string
	stores := intakeFunc(func(evs []*event.Event) (int, int, error) {
		order = append(order, "accept")
		return len(evs), 0, nil
	})
	fails := intakeFunc(func([]*event.Event) (int, int, error) {
		order = append(order, "accept")
		return 0, 0, down
	})
	var letters []store.DeadLetter
	keeps := deadLetterFunc(func(d store.DeadLetter) error {
		order = append(order, "dead letter")
		letters = append(letters, d)
		return nil
	})
	loses := deadLetterFunc(func(store.DeadLetter) error {
		order = append(order, "dead letter")
		return down
	})
	tests := []struct {
		name    string
		in      intake.Intake
		dl      intake.DeadLetterer
		body    string
		order   []string
		err     error
		reasons int
	}{
		{"event", stores, keeps, good, []string{"accept"}, nil, 0},
		{"events first, then the rest", stores, keeps, good + "\n42", []string{"accept", "dead letter"}, nil, 1},
		{"store fails: nothing dead-lettered", fails, keeps, good + "\n42", []string{"accept"}, down, 0},
		{"dead letter fails", stores, loses, good + "\n42", []string{"accept", "dead letter"}, down, 0},
		{"empty body", stores, keeps, "  \n", []string{"dead letter"}, nil, 1},
		{"nowhere to keep it", stores, nil, "42", nil, &intake.RejectedError{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			order, letters = nil, nil
			_, err := intake.Deliver(context.Background(), tc.in, tc.dl,
				intake.Message{Via: "test", Source: "q", ID: "m-1", Body: []byte(tc.body)})
			var rej *intake.RejectedError
			switch {
			case tc.err == nil && err != nil, tc.err != nil && err == nil:
				t.Fatalf("error %v, want %v", err, tc.err)
			case errors.As(tc.err, &rej):
				if !errors.As(err, &rej) {
					t.Errorf("error %v, want a RejectedError", err)
				}
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("error %v, want %v", err, tc.err)
			}
			if !slices.Equal(order, tc.order) {
				t.Errorf("calls %v, want %v", order, tc.order)
			}
			if tc.reasons > 0 {
				if len(letters) != 1 || len(letters[0].Reasons) != tc.reasons || string(letters[0].Body) != tc.body {
					t.Errorf("dead letters %+v, want one with %d reasons and the body", letters, tc.reasons)
				}
			}
		})
	}
}
