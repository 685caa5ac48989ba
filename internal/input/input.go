// Package input holds the checks that the API, the console and the engine apply alike to
// what people type: free text that will be shown and audited, and AWS account ids.
package input

import (
	"unicode"
	"unicode/utf8"
)

// Printable reports whether s is valid UTF-8 without control characters: text that is
// shown on pages and written to the audit chain must not carry terminal escapes or line
// breaks that forge a log line.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// Clip keeps input echoed in a message short.
func Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Account reports whether s is an AWS account id: exactly 12 ASCII digits.
func Account(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
