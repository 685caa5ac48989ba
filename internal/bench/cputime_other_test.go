//go:build !unix

package bench

import "time"

// cpuTime is unavailable here; callers fall back to elapsed time.
func cpuTime() time.Duration { return 0 }
