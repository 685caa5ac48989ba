// Package suggest proposes the name a user most likely meant when they misspelt one, for
// the "did you mean" of configuration and playbook errors.
package suggest

import (
	"fmt"
	"slices"
)

// Distance is the optimal-string-alignment (restricted Damerau–Levenshtein) distance, so
// that a transposition ("isolaet") costs one edit like the other typos people make.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Names are short; a long one is not a typo of anything.
		return 1 << 20
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Closest returns the candidate closest to got within two edits (one for words of three
// letters or fewer, where two edits reach almost anything), or "". Ties go to the
// candidate first in lexical order, so the suggestion does not depend on map order.
func Closest(got string, candidates []string) string {
	best, bestD := "", 3
	if len([]rune(got)) <= 3 {
		bestD = 2
	}
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	for _, c := range sorted {
		if d := Distance(got, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// DidYouMean formats Closest as the suffix of an error message, ` (did you mean "x"?)`,
// or "" when nothing is close.
func DidYouMean(got string, candidates []string) string {
	if s := Closest(got, candidates); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}
