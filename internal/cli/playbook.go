package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/decide"
	"github.com/firebreak-sec/firebreak/internal/playbook"
	"github.com/firebreak-sec/firebreak/internal/runbook"
	"github.com/firebreak-sec/firebreak/internal/world"
)

func newPlaybookCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "playbook",
		Aliases: []string{"playbooks"},
		Short:   "Validate, test, document and list playbooks",
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "validate [DIR]",
			Short: "Check every playbook in DIR (default ./playbooks); report all problems as file:line:col",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				dir := dirArg(args)
				set, err := loadPlaybooks(s, dir)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.out, "%s: %d playbooks valid\n", dir, len(set.Playbooks))
				return nil
			},
		},
		&cobra.Command{
			Use:   "test [DIR]",
			Short: "Run the test cases kept beside the playbooks (kind: PlaybookTest)",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				set, err := loadPlaybooks(s, dirArg(args))
				if err != nil {
					return err
				}
				eng := decide.New(set, decide.Options{})
				sum, err := decide.RunTests(cmd.Context(), set, eng, loadInventory, s.out)
				if err != nil {
					return &exitError{code: ExitUsage, err: err}
				}
				if sum.Failed > 0 {
					return &exitError{code: ExitRejected}
				}
				return nil
			},
		},
		newPlaybookDocCmd(s),
		&cobra.Command{
			Use:   "list [DIR]",
			Short: "List the playbooks with their trigger source, target and mode",
			Args:  cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				set, err := loadPlaybooks(s, dirArg(args))
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTARGET\tMODE\tSTEPS\tFILE")
				for _, p := range set.Playbooks {
					var steps []string
					for _, st := range p.Steps {
						steps = append(steps, st.Action)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Target, p.Mode, strings.Join(steps, ","), p.Pos.File)
				}
				return tw.Flush()
			},
		},
	)
	return cmd
}

func newPlaybookDocCmd(s *streams) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "doc [DIR]",
		Short: "Write a markdown runbook per playbook, with the AWS CLI commands to do each step by hand",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := loadPlaybooks(s, dirArg(args))
			if err != nil {
				return err
			}
			cat := catalog.Default()
			if outDir == "-" {
				for i, p := range set.Playbooks {
					if i > 0 {
						fmt.Fprintln(s.out)
					}
					fmt.Fprint(s.out, runbook.Write(p, cat))
				}
				return nil
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return usageErr("--out %s: %v", outDir, err)
			}
			for _, p := range set.Playbooks {
				path := filepath.Join(outDir, p.Name+".md")
				if err := os.WriteFile(path, []byte(runbook.Write(p, cat)), 0o644); err != nil {
					return usageErr("write %s: %v", path, err)
				}
				fmt.Fprintln(s.out, path)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "runbooks", "directory to write the runbooks to, or - for standard output")
	return cmd
}

func dirArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "playbooks"
}

// loadPlaybooks loads and validates a playbook directory, printing every problem as
// file:line:col: message. Any problem is a configuration error (exit 2).
func loadPlaybooks(s *streams, dir string) (*playbook.Set, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, usageErr("playbook directory %s: not found; pass --playbooks DIR", dir)
	}
	set, err := playbook.LoadDir(dir, catalog.Default())
	if err == nil {
		return set, nil
	}
	var les playbook.LoadErrors
	if errors.As(err, &les) {
		for _, le := range les {
			fmt.Fprintln(s.err, le.Error())
		}
		return nil, &exitError{code: ExitUsage, err: fmt.Errorf("%s: %d problems; fix them and run 'firebreak playbook validate %s'", dir, len(les), dir)}
	}
	return nil, &exitError{code: ExitUsage, err: err}
}

// loadDecider builds the decision engine and, when a world file is given, the inventory
// that supplies tags and account names the events lack.
func loadDecider(s *streams, dir, worldFile string) (*decide.Engine, decide.Inventory, error) {
	set, err := loadPlaybooks(s, dir)
	if err != nil {
		return nil, nil, err
	}
	var inv decide.Inventory
	if worldFile != "" {
		inv, err = loadInventory(worldFile)
		if err != nil {
			return nil, nil, &exitError{code: ExitUsage, err: err}
		}
	}
	return decide.New(set, decide.Options{}), inv, nil
}

func loadInventory(path string) (decide.Inventory, error) {
	w, err := world.Load(path)
	if err != nil {
		return nil, err
	}
	return decide.WorldInventory(w), nil
}
