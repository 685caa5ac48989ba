package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/pattern"
)

func newPatternCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pattern",
		Short: "Work with EventBridge event patterns",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "test PATTERN_FILE EVENT_FILE",
		Short: "Check one EventBridge pattern against one event, like aws events test-event-pattern",
		Long: `Check one EventBridge pattern against one event as EventBridge delivers it (the
envelope and all). Prints "match" and exits 0, or "no match" and exits 1; exits 2 when
the pattern or the event is invalid.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			pat, err := os.ReadFile(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			ev, err := os.ReadFile(args[1])
			if err != nil {
				return usageErr("%v", err)
			}
			p, err := pattern.Compile(pat)
			if err != nil {
				return usageErr("%s: invalid pattern: %v", args[0], err)
			}
			dec := json.NewDecoder(bytes.NewReader(ev))
			dec.UseNumber()
			var envelope map[string]any
			if err := dec.Decode(&envelope); err != nil {
				return usageErr("%s: the event must be one JSON object as EventBridge delivers it: %v", args[1], err)
			}
			if !p.Match(envelope) {
				fmt.Fprintln(s.out, "no match")
				return &exitError{code: ExitRejected}
			}
			fmt.Fprintln(s.out, "match")
			return nil
		},
	})
	return cmd
}
