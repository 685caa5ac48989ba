package reliability

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// full reports whether FIREBREAK_RELIABILITY=full asks for the full sizes.
func full() bool { return os.Getenv("FIREBREAK_RELIABILITY") == "full" }

// size picks the default or the full size of a test.
func size(def, fullSize int) int {
	if full() {
		return fullSize
	}
	return def
}

// seed returns the seed for a test's random choices: FIREBREAK_RELIABILITY_SEED when set,
// so that a failing run can be replayed, otherwise the clock. It is logged either way.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("FIREBREAK_RELIABILITY_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FIREBREAK_RELIABILITY_SEED=%q: want an unsigned integer", v)
		}
		s = n
	}
	t.Logf("seed %d (replay with FIREBREAK_RELIABILITY_SEED=%d)", s, s)
	return s
}
