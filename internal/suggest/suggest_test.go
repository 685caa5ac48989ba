package suggest

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"isolate", "isolate", 0},
		{"isolat", "isolate", 1},
		{"isolaet", "isolate", 1}, // a transposition is one edit
		{"stesp", "steps", 1},
		{"lsiten", "listen", 1},
		{"kitten", "sitting", 3},
	}
	for _, tt := range tests {
		if got := Distance(tt.a, tt.b); got != tt.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		got        string
		candidates []string
		want       string
	}{
		{"ec2.isolat", []string{"ec2.stop", "ec2.isolate"}, ` (did you mean "ec2.isolate"?)`},
		{"stesp", []string{"on", "steps", "target"}, ` (did you mean "steps"?)`},
		{"xyz", []string{"on", "steps"}, ""},
		{"ip", []string{"id", "on"}, ` (did you mean "id"?)`},         // one edit for short words
		{"ab", []string{"on"}, ""},                                    // two edits is too far for them
		{"kind", []string{"mind", "bind"}, ` (did you mean "bind"?)`}, // ties: lexical order
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.got, tt.candidates); got != tt.want {
			t.Errorf("DidYouMean(%q, %v) = %q, want %q", tt.got, tt.candidates, got, tt.want)
		}
	}
}
