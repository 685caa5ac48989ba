package iam

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/firebreak-sec/firebreak/internal/action"
	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/event"
)

// RevokeRoleSessionsSpec declares iam.revoke-role-sessions, the IAM console's "Revoke
// active sessions": an inline policy that denies everything to credentials issued before
// now, so stolen temporary credentials stop working while new sessions are unaffected.
// Anyone who can still assume the role (or an instance whose profile it is) gets fresh
// credentials that work, so this is paired with cutting off whatever obtained them.
//
// A repeated step recognises its own revocation by the statement's Sid, which names the
// incident, and leaves the cut-off where it was: moving it to now would also revoke the
// sessions responders started since. Another incident's revocation under the same name is
// replaced, and put back on undo.
//
// Removing the policy on undo makes the revoked credentials valid again until they expire;
// undo is offered for a revocation made in error, not as a routine release.
func RevokeRoleSessionsSpec() *action.Spec {
	return &action.Spec{
		Name: "iam.revoke-role-sessions",
		Summary: "Revoke every session of the role issued before now, with an inline policy that denies all " +
			"actions on aws:TokenIssueTime, as the IAM console's \"Revoke active sessions\" does.",
		Targets: []event.Kind{event.KindIAMRole},
		Params: []action.Param{
			{
				Name:    "policy_name",
				Type:    action.String,
				Doc:     "Name of the inline policy; putting it again moves the cut-off time to now.",
				Default: "FirebreakRevokeOlderSessions",
			},
		},
		Reversible: true,
		Exec:       revokeRoleSessions{},
		Permissions: []string{
			"iam:GetRole",
			// The policy already under the name: undo puts it back, and a revocation this
			// incident made already is not repeated.
			"iam:GetRolePolicy",
			"iam:PutRolePolicy",
			"iam:DeleteRolePolicy",
			"iam:TagRole",
			"iam:UntagRole",
		},
		Manual: `# Account {{.Account}}: revoke every session of role {{.ID}} issued before now.
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
aws iam put-role-policy --role-name '{{.ID}}' --policy-name '{{.Param "policy_name"}}' --policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"'"$NOW"'"}}}]}'
aws iam tag-role --role-name '{{.ID}}' --tags Key=firebreak:incident,Value=INCIDENT_ID`,
		ManualUndo: `# Account {{.Account}}: the revoked credentials of role {{.ID}} become valid again until they expire.
aws iam delete-role-policy --role-name '{{.ID}}' --policy-name '{{.Param "policy_name"}}'
aws iam untag-role --role-name '{{.ID}}' --tag-keys firebreak:incident`,
	}
}

type revokeRoleSessions struct{}

// revokePrior is what iam.revoke-role-sessions changed: whether it put the policy, the
// document that was under the policy's name before (Had false: there was none), and the
// role's tags.
type revokePrior struct {
	Role     string             `json:"role"`
	Policy   string             `json:"policy"`
	Put      bool               `json:"put,omitempty"`
	Had      bool               `json:"had,omitempty"`
	Document string             `json:"document,omitempty"`
	Tags     []action.TagChange `json:"tags,omitempty"`
}

type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Action    any            `json:"Action"`
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// revokeSid names the statement after the incident, so that a repeated step recognises the
// revocation it made and does not move the cut-off forward, which would revoke the sessions
// responders started since. A Sid may hold letters and digits only.
func revokeSid(incident string) string {
	var b strings.Builder
	b.WriteString("FirebreakRevokeOlderSessions")
	for _, r := range incident {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// revokes reports whether doc denies everything to tokens issued before a time in a
// statement named sid.
func revokes(doc, sid string) bool {
	var p policyDocument
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	for _, s := range p.Statement {
		if s.Sid != sid || s.Effect != "Deny" || fmt.Sprint(s.Action) != "*" {
			continue
		}
		if cond, ok := s.Condition["DateLessThan"].(map[string]any); ok && cond["aws:TokenIssueTime"] != nil {
			return true
		}
	}
	return false
}

func (revokeRoleSessions) Do(ctx context.Context, env *action.Env, req *action.Request) (*action.Result, error) {
	t := req.Target
	fail := func(res *action.Result, err error) (*action.Result, error) {
		return res, fmt.Errorf("revoke sessions of role %s in %s: %w", t.ID, t.Account, err)
	}
	c, err := env.Cloud.IAM(ctx, t.Account)
	if err != nil {
		return fail(nil, err)
	}
	name := req.String("policy_name")
	if name == "" {
		name = "FirebreakRevokeOlderSessions"
	}
	role := aws.String(t.ID)
	trace := &action.Trace{}
	prior := revokePrior{Role: t.ID, Policy: name}
	tags := map[string]string{}
	err = action.Parallel(
		func() error {
			out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: role})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:GetRole", "read the role")
			}
			trace.Record(out.ResultMetadata)
			if out.Role != nil {
				for _, tg := range out.Role.Tags {
					tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
				}
			}
			return nil
		},
		func() error {
			out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: role, PolicyName: aws.String(name)})
			switch {
			case err != nil && cloud.Code(err) == "NoSuchEntity":
				return nil
			case err != nil:
				return action.AWSError(err, t.Account, "iam:GetRolePolicy", "read the inline policy "+name)
			}
			trace.Record(out.ResultMetadata)
			// IAM returns policy documents URL-encoded.
			doc, err := url.PathUnescape(aws.ToString(out.PolicyDocument))
			if err != nil {
				return fmt.Errorf("read the inline policy %s: the document is not URL-encoded: %w", name, err)
			}
			prior.Had, prior.Document = true, doc
			return nil
		},
	)
	if err != nil {
		return fail(nil, err)
	}
	sid := revokeSid(req.Incident)
	prior.Put = !(prior.Had && revokes(prior.Document, sid))
	setTags, tagPrior := action.TagChanges(tags, action.IncidentTags(req.Incident, ""))
	prior.Tags = tagPrior
	if !prior.Put && len(setTags) == 0 {
		return &action.Result{Status: action.AlreadyDone, Message: "sessions were already revoked for this incident by the policy " + name, RequestIDs: trace.IDs()}, nil
	}
	raw, err := action.EncodePrior(prior)
	if err != nil {
		return fail(nil, err)
	}
	cutoff := env.Clock().UTC().Format(time.RFC3339)
	doc, err := json.Marshal(policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Sid: sid, Effect: "Deny", Action: "*", Resource: "*",
		Condition: map[string]any{"DateLessThan": map[string]string{"aws:TokenIssueTime": cutoff}},
	}}})
	if err != nil {
		return fail(nil, fmt.Errorf("build the policy: %w", err))
	}
	err = action.Parallel(
		when(prior.Put, func() error {
			out, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: role, PolicyName: aws.String(name), PolicyDocument: aws.String(string(doc))})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:PutRolePolicy", "put the revocation policy "+name)
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		when(len(setTags) > 0, func() error { return tagRole(ctx, c, trace, t.Account, t.ID, setTags) }),
	)
	if err != nil {
		return fail(&action.Result{Prior: raw, RequestIDs: trace.IDs()}, err)
	}
	msg := "sessions issued before " + cutoff + " revoked by the policy " + name
	if !prior.Put {
		msg = "role tagged; sessions were already revoked for this incident"
	}
	return &action.Result{Status: action.Done, Message: msg, Prior: raw, RequestIDs: trace.IDs()}, nil
}

// Undo puts back the policy that was under the name before, or deletes the one Do added.
// The revoked credentials become valid again until they expire.
func (revokeRoleSessions) Undo(ctx context.Context, env *action.Env, req *action.Request, raw json.RawMessage) (*action.Result, error) {
	t := req.Target
	fail := func(err error) (*action.Result, error) {
		return nil, fmt.Errorf("restore sessions of role %s in %s: %w", t.ID, t.Account, err)
	}
	var prior revokePrior
	if err := action.DecodePrior(raw, &prior); err != nil {
		return fail(err)
	}
	c, err := env.Cloud.IAM(ctx, t.Account)
	if err != nil {
		return fail(err)
	}
	role := aws.String(prior.Role)
	trace := &action.Trace{}
	restore, remove := action.SplitTagUndo(prior.Tags)
	err = action.Parallel(
		when(prior.Put && prior.Had, func() error {
			out, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: role, PolicyName: aws.String(prior.Policy), PolicyDocument: aws.String(prior.Document)})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:PutRolePolicy", "put back the policy "+prior.Policy+" as it was")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
		when(prior.Put && !prior.Had, func() error {
			out, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: role, PolicyName: aws.String(prior.Policy)})
			// Already gone: a Do that failed before putting it, or an undo repeated.
			if err != nil && cloud.Code(err) != "NoSuchEntity" {
				return action.AWSError(err, t.Account, "iam:DeleteRolePolicy", "delete the revocation policy "+prior.Policy)
			}
			if err == nil {
				trace.Record(out.ResultMetadata)
			}
			return nil
		}),
		when(len(restore) > 0, func() error { return tagRole(ctx, c, trace, t.Account, prior.Role, restore) }),
		when(len(remove) > 0, func() error {
			out, err := c.UntagRole(ctx, &iam.UntagRoleInput{RoleName: role, TagKeys: remove})
			if err != nil {
				return action.AWSError(err, t.Account, "iam:UntagRole", "remove the incident tag")
			}
			trace.Record(out.ResultMetadata)
			return nil
		}),
	)
	if err != nil {
		return fail(err)
	}
	return &action.Result{Status: action.Done, Message: "revocation withdrawn: credentials issued before it are valid again until they expire", RequestIDs: trace.IDs()}, nil
}

func tagRole(ctx context.Context, c cloud.IAM, trace *action.Trace, account, role string, tags map[string]string) error {
	in := &iam.TagRoleInput{RoleName: aws.String(role)}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	out, err := c.TagRole(ctx, in)
	if err != nil {
		return action.AWSError(err, account, "iam:TagRole", "tag the role")
	}
	trace.Record(out.ResultMetadata)
	return nil
}
