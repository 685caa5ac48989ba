package cli

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
)

func newIAMPolicyCmd(s *streams) *cobra.Command {
	var (
		dir, role, which string
		all              bool
	)
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policies Firebreak's roles need",
		Long: `Print the IAM policy for the responder role in each member account (the permissions of
the actions the playbooks use, or of every action with --all) and for the hub role
(sts:AssumeRole on the member roles). Generated from the actions' own declarations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat := catalog.Default()
			var names []string
			if !all {
				set, err := loadPlaybooks(s, dir)
				if err != nil {
					return err
				}
				seen := map[string]bool{}
				for _, p := range set.Playbooks {
					for _, st := range p.Steps {
						if !seen[st.Action] {
							seen[st.Action] = true
							names = append(names, st.Action)
						}
					}
				}
				sort.Strings(names)
			} else {
				names = cat.Names()
			}
			switch which {
			case "member", "hub", "both":
			default:
				return usageErr("--role-kind %q: use member, hub or both", which)
			}
			if which != "hub" {
				doc, err := cat.MemberPolicy(names...)
				if err != nil {
					return usageErr("%v", err)
				}
				if which == "both" {
					fmt.Fprintf(s.out, "# Member account role %s (actions: %s)\n", role, joinNames(names))
				}
				fmt.Fprintln(s.out, string(doc))
			}
			if which != "member" {
				doc, err := action.HubPolicy(role)
				if err != nil {
					return usageErr("%v", err)
				}
				if which == "both" {
					fmt.Fprintln(s.out, "# Hub role (where firebreak runs)")
				}
				fmt.Fprintln(s.out, string(doc))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "playbooks", "playbooks", "directory of playbooks whose actions the policy covers")
	cmd.Flags().BoolVar(&all, "all", false, "cover every action Firebreak offers, not only those the playbooks use")
	cmd.Flags().StringVar(&role, "role-name", awscloud.DefaultRoleName, "the member accounts' responder role")
	cmd.Flags().StringVar(&which, "role-kind", "member", "which policy to print: member, hub or both")
	return cmd
}

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
