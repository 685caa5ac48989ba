package input

import "testing"

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		s                  string
		printable, account bool
	}{
		{"111122223333", true, true},
		{"11112222333", true, false},
		{"1111222233334", true, false},
		{"11112222333a", true, false},
		{"INC-42 suspected compromise", true, false},
		{"line\nbreak", false, false},
		{"\x1b[31mred", false, false},
		{"\xff", false, false},
		{"", true, false},
	} {
		if got := Printable(tc.s); got != tc.printable {
			t.Errorf("Printable(%q) = %v, want %v", tc.s, got, tc.printable)
		}
		if got := Account(tc.s); got != tc.account {
			t.Errorf("Account(%q) = %v, want %v", tc.s, got, tc.account)
		}
	}
	if got := Clip(string(make([]byte, 100))); len(got) != 67 {
		t.Errorf("Clip of 100 bytes has %d, want 64 and an ellipsis", len(got))
	}
	if Clip("short") != "short" {
		t.Error("Clip changed a short string")
	}
}
