package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// MaxLabelLength is the longest sensitivity label a clearance may name.
const MaxLabelLength = 128

// NormaliseLabel is how a sensitivity label is compared: trimmed and lower-cased, exactly
// as engine.SensitivityOf labels an incident, so that a clearance for "Restricted" sees
// the incidents of a playbook labelled "restricted".
func NormaliseLabel(label string) string {
	return strings.ToLower(strings.TrimSpace(label))
}

// ParseClearance normalises labels (NormaliseLabel), drops repeats and sorts them. It
// fails, naming the label, on one that is empty, longer than MaxLabelLength, holds a
// control character, or holds a comma: a comma separates labels on the command line
// (firebreak token create --clearance a,b), so a label with one could never be granted
// there. The result is never nil, so that it is stored as an empty list.
func ParseClearance(labels []string) ([]string, error) {
	out := make([]string, 0, len(labels))
	for _, l := range labels {
		n := NormaliseLabel(l)
		if err := checkLabel(n); err != nil {
			return nil, fmt.Errorf("clearance %q: %w", l, err)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkLabel says what is wrong with a normalised label, if anything.
func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("is empty; give the value of a playbook's sensitivity label, such as restricted")
	case len(l) > MaxLabelLength:
		return fmt.Errorf("is longer than %d characters", MaxLabelLength)
	case strings.Contains(l, ","):
		return errors.New("holds a comma, which separates labels; give each label on its own")
	case strings.ContainsFunc(l, unicode.IsControl):
		return errors.New("holds a control character")
	}
	return nil
}
