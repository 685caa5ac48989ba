package cli

import (
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/action/catalog"
	"github.com/firebreak-sec/firebreak/internal/anchor"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
	"github.com/firebreak-sec/firebreak/internal/config"
)

func newIAMPolicyCmd(s *streams) *cobra.Command {
	var (
		dir, role, which, cfgFile string
		all                       bool
	)
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policies Firebreak's roles need",
		Long: `Print the IAM policy for the responder role in each member account (the permissions of
the actions the playbooks use, or of every action with --all) and for the hub role
(sts:AssumeRole on the member roles; with --config, also reading the configured SQS
queues and writing the audit anchor). Generated from the actions' own declarations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat := catalog.Default()
			var names []string
			if !all && which != "hub" {
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
			var extra []action.Statement
			if cfgFile != "" {
				data, err := os.ReadFile(cfgFile)
				if err != nil {
					return usageErr("--config: %v", err)
				}
				// The policy needs no secret: every env:NAME stands in as set, so that it
				// can be written where the secrets are not.
				cfg, err := config.Parse(cfgFile, data, func(string) (string, bool) { return "placeholder-for-the-policy", true })
				if err != nil {
					return &exitError{code: ExitUsage, err: err}
				}
				if extra, err = hubStatements(cfg); err != nil {
					return usageErr("%v", err)
				}
				if !cmd.Flags().Changed("role-name") {
					role = cfg.Accounts.RoleName
				}
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
				doc, err := action.HubPolicy(role, extra...)
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
	cmd.Flags().StringVar(&cfgFile, "config", "", "firebreak.yaml whose SQS queues and audit anchor the hub policy also covers")
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

// hubStatements are what the hub's own principal needs for cfg beyond assuming the member
// roles: reading and deleting messages on each queue, and writing (and, for audit verify,
// reading) the audit chain's anchors.
func hubStatements(cfg *config.Config) ([]action.Statement, error) {
	var out []action.Statement
	for i, q := range cfg.SQS.Queues {
		u, err := url.Parse(q.URL)
		parts := strings.Split(strings.Trim(u.Path, "/"), "/")
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("sqs.queues[%d]: %q is not a queue URL ending in /ACCOUNT/NAME", i, q.URL)
		}
		out = append(out, action.Statement{Sid: fmt.Sprintf("FirebreakReadEventQueue%d", i+1), Effect: "Allow",
			Action:   []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
			Resource: fmt.Sprintf("arn:%s:sqs:%s:%s:%s", partitionOf(q.Region), q.Region, parts[0], parts[1])})
	}
	if a := cfg.Audit.Anchor; a.Location != "" {
		bucket, prefix, err := anchor.ParseURL(a.Location)
		if err != nil {
			return nil, fmt.Errorf("audit.anchor.location: %w", err)
		}
		part := partitionOf(a.Region)
		out = append(out,
			action.Statement{Sid: "FirebreakAnchorAuditChain", Effect: "Allow",
				Action:   []string{"s3:GetObject", "s3:PutObject", "s3:PutObjectRetention"},
				Resource: fmt.Sprintf("arn:%s:s3:::%s/%s*", part, bucket, prefix)},
			action.Statement{Sid: "FirebreakListAuditAnchors", Effect: "Allow",
				Action:   []string{"s3:ListBucket"},
				Resource: fmt.Sprintf("arn:%s:s3:::%s", part, bucket)})
	}
	return out, nil
}

// partitionOf is the ARN partition of region; "aws" when the region is not known.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}
