package action

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// PolicyDocument is an IAM policy document.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one statement of a PolicyDocument.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource string   `json:"Resource"`
}

// Permissions returns the union of the IAM actions the named actions need, sorted; with
// no names, those of every action in the catalogue. An unknown name is an error, so that a
// typo never yields a policy that silently lacks a permission.
func (c *Catalogue) Permissions(names ...string) ([]string, error) {
	if len(names) == 0 {
		names = c.Names()
	}
	set := map[string]bool{}
	for _, n := range names {
		s, ok := c.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("unknown action %q", n)
		}
		for _, p := range s.Permissions {
			set[p] = true
		}
	}
	perms := make([]string, 0, len(set))
	for p := range set {
		perms = append(perms, p)
	}
	sort.Strings(perms)
	return perms, nil
}

// MemberPolicy returns the least-privilege policy for the responder role in member
// accounts: the permissions of the named actions (all when none are named), one statement
// per AWS service so a reviewer can read it service by service. Resources are "*" because
// the resources are the incidents' and cannot be known in advance.
func (c *Catalogue) MemberPolicy(names ...string) ([]byte, error) {
	perms, err := c.Permissions(names...)
	if err != nil {
		return nil, err
	}
	byService := map[string][]string{}
	var services []string
	for _, p := range perms {
		svc, _, _ := strings.Cut(p, ":")
		if _, seen := byService[svc]; !seen {
			services = append(services, svc)
		}
		byService[svc] = append(byService[svc], p)
	}
	sort.Strings(services)
	doc := PolicyDocument{Version: "2012-10-17", Statement: []Statement{}}
	for _, svc := range services {
		doc.Statement = append(doc.Statement, Statement{
			Sid: "Firebreak" + sid(svc), Effect: "Allow", Action: byService[svc], Resource: "*",
		})
	}
	return json.MarshalIndent(doc, "", "  ")
}

// HubPolicy returns the policy for Firebreak's own principal in the hub account: it may
// assume the responder role, called role (optionally with a path), in any account, and do
// what extra allows (reading its queues, anchoring the audit chain), and nothing else.
func HubPolicy(role string, extra ...Statement) ([]byte, error) {
	role = strings.Trim(role, "/")
	if role == "" {
		return nil, fmt.Errorf("hub policy: a role name is required")
	}
	doc := PolicyDocument{Version: "2012-10-17", Statement: append([]Statement{{
		Sid: "FirebreakAssumeResponderRole", Effect: "Allow", Action: []string{"sts:AssumeRole"},
		Resource: "arn:aws:iam::*:role/" + role,
	}}, extra...)}
	return json.MarshalIndent(doc, "", "  ")
}

// sid turns a service prefix into a statement id fragment: network-firewall → NetworkFirewall.
func sid(svc string) string {
	var b strings.Builder
	for _, part := range strings.Split(svc, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// authorisedAs maps an API operation to the IAM action that authorises it, where the two
// are named differently (Service Authorization Reference: Amazon S3 authorises several
// operations under one configuration action).
var authorisedAs = map[string]string{
	"s3:GetPublicAccessBlock":    "s3:GetBucketPublicAccessBlock",
	"s3:PutPublicAccessBlock":    "s3:PutBucketPublicAccessBlock",
	"s3:DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
	"s3:GetBucketEncryption":     "s3:GetEncryptionConfiguration",
	"s3:PutBucketEncryption":     "s3:PutEncryptionConfiguration",
	"s3:DeleteBucketEncryption":  "s3:PutEncryptionConfiguration",
	"s3:DeleteBucketTagging":     "s3:PutBucketTagging",
}

// IAMAction returns the IAM action that authorises calling operation on service (its IAM
// prefix, e.g. "s3"): service:operation, except where AWS names the two differently.
func IAMAction(service, operation string) string {
	op := service + ":" + operation
	if a, ok := authorisedAs[op]; ok {
		return a
	}
	return op
}
