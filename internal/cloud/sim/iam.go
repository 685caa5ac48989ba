package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	"github.com/firebreak-sec/firebreak/internal/world"
)

// IAM is the simulated IAM API of one account.
type IAM struct{ c client }

var _ cloud.IAM = (*IAM)(nil)

// maxTags is IAM's limit of tags per user or role.
const maxTags = 50

func (s *scope) user(name string) (*world.User, error) {
	if name == "" {
		return nil, apiError("ValidationError", "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null")
	}
	for _, u := range s.a.IAM.Users {
		if u != nil && u.Name == name {
			return u, nil
		}
	}
	return nil, apiError("NoSuchEntity", fmt.Sprintf("The user with name %s cannot be found.", name))
}

func (s *scope) role(name string) (*world.Role, error) {
	if name == "" {
		return nil, apiError("ValidationError", "1 validation error detected: Value null at 'roleName' failed to satisfy constraint: Member must not be null")
	}
	for _, r := range s.a.IAM.Roles {
		if r != nil && r.Name == name {
			return r, nil
		}
	}
	return nil, apiError("NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name))
}

func iamTags(m map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encodePolicy URL-encodes a policy document, as IAM returns documents from Get*Policy.
func encodePolicy(doc string) string {
	var b strings.Builder
	for _, c := range []byte(doc) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func checkPolicy(name, doc string) error {
	if name == "" {
		return apiError("ValidationError", "1 validation error detected: Value null at 'policyName' failed to satisfy constraint: Member must not be null")
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		return apiError("MalformedPolicyDocument", "Syntax errors in policy.")
	}
	if _, ok := v["Statement"]; !ok {
		return apiError("MalformedPolicyDocument", "Policy document must contain a Statement.")
	}
	return nil
}

func addTags(m *map[string]string, tags []types.Tag) error {
	if *m == nil {
		*m = map[string]string{}
	}
	n := len(*m)
	for _, t := range tags {
		if _, ok := (*m)[aws.ToString(t.Key)]; !ok {
			n++
		}
	}
	if n > maxTags {
		return apiError("LimitExceeded", "The number of tags has reached the maximum limit.")
	}
	for _, t := range tags {
		(*m)[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return nil
}

// GetUser implements cloud.IAM.
func (c *IAM) GetUser(ctx context.Context, in *iam.GetUserInput, _ ...func(*iam.Options)) (*iam.GetUserOutput, error) {
	return run(ctx, &c.c, "GetUser", in, func(s *scope, in *iam.GetUserInput) (*iam.GetUserOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		return &iam.GetUserOutput{User: &types.User{UserName: aws.String(u.Name), Arn: aws.String(s.arn("iam", "user/"+u.Name)), Path: aws.String("/"), Tags: iamTags(u.Tags)}}, nil
	})
}

// ListAccessKeys implements cloud.IAM.
func (c *IAM) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	return run(ctx, &c.c, "ListAccessKeys", in, func(s *scope, in *iam.ListAccessKeysInput) (*iam.ListAccessKeysOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		out := &iam.ListAccessKeysOutput{AccessKeyMetadata: []types.AccessKeyMetadata{}}
		for _, k := range u.AccessKeys {
			if k != nil {
				out.AccessKeyMetadata = append(out.AccessKeyMetadata, types.AccessKeyMetadata{AccessKeyId: aws.String(k.ID), Status: types.StatusType(k.Status), UserName: aws.String(u.Name)})
			}
		}
		return out, nil
	})
}

// UpdateAccessKey implements cloud.IAM.
func (c *IAM) UpdateAccessKey(ctx context.Context, in *iam.UpdateAccessKeyInput, _ ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error) {
	return run(ctx, &c.c, "UpdateAccessKey", in, func(s *scope, in *iam.UpdateAccessKeyInput) (*iam.UpdateAccessKeyOutput, error) {
		if in.Status != types.StatusTypeActive && in.Status != types.StatusTypeInactive {
			return nil, apiError("ValidationError", fmt.Sprintf("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", in.Status))
		}
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		for _, k := range u.AccessKeys {
			if k != nil && k.ID == aws.ToString(in.AccessKeyId) {
				k.Status = string(in.Status)
				return &iam.UpdateAccessKeyOutput{}, nil
			}
		}
		return nil, apiError("NoSuchEntity", fmt.Sprintf("The Access Key with id %s cannot be found.", aws.ToString(in.AccessKeyId)))
	})
}

// GetLoginProfile implements cloud.IAM.
func (c *IAM) GetLoginProfile(ctx context.Context, in *iam.GetLoginProfileInput, _ ...func(*iam.Options)) (*iam.GetLoginProfileOutput, error) {
	return run(ctx, &c.c, "GetLoginProfile", in, func(s *scope, in *iam.GetLoginProfileInput) (*iam.GetLoginProfileOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		if !u.LoginProfile {
			return nil, apiError("NoSuchEntity", fmt.Sprintf("Login Profile for User %s cannot be found.", u.Name))
		}
		return &iam.GetLoginProfileOutput{LoginProfile: &types.LoginProfile{UserName: aws.String(u.Name), PasswordResetRequired: u.PasswordResetRequired}}, nil
	})
}

// CreateLoginProfile implements cloud.IAM. The password itself is not kept.
func (c *IAM) CreateLoginProfile(ctx context.Context, in *iam.CreateLoginProfileInput, _ ...func(*iam.Options)) (*iam.CreateLoginProfileOutput, error) {
	return run(ctx, &c.c, "CreateLoginProfile", in, func(s *scope, in *iam.CreateLoginProfileInput) (*iam.CreateLoginProfileOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		if u.LoginProfile {
			return nil, apiError("EntityAlreadyExists", fmt.Sprintf("Login Profile for user %s already exists.", u.Name))
		}
		if len(aws.ToString(in.Password)) < 8 {
			return nil, apiError("PasswordPolicyViolation", "Password should have a minimum length of 8")
		}
		u.LoginProfile, u.PasswordResetRequired = true, in.PasswordResetRequired
		return &iam.CreateLoginProfileOutput{LoginProfile: &types.LoginProfile{UserName: aws.String(u.Name), PasswordResetRequired: in.PasswordResetRequired}}, nil
	})
}

// DeleteLoginProfile implements cloud.IAM.
func (c *IAM) DeleteLoginProfile(ctx context.Context, in *iam.DeleteLoginProfileInput, _ ...func(*iam.Options)) (*iam.DeleteLoginProfileOutput, error) {
	return run(ctx, &c.c, "DeleteLoginProfile", in, func(s *scope, in *iam.DeleteLoginProfileInput) (*iam.DeleteLoginProfileOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		if !u.LoginProfile {
			return nil, apiError("NoSuchEntity", fmt.Sprintf("Login Profile for User %s cannot be found.", u.Name))
		}
		u.LoginProfile, u.PasswordResetRequired = false, false
		return &iam.DeleteLoginProfileOutput{}, nil
	})
}

// GetUserPolicy implements cloud.IAM; the document comes back URL-encoded, as from IAM.
func (c *IAM) GetUserPolicy(ctx context.Context, in *iam.GetUserPolicyInput, _ ...func(*iam.Options)) (*iam.GetUserPolicyOutput, error) {
	return run(ctx, &c.c, "GetUserPolicy", in, func(s *scope, in *iam.GetUserPolicyInput) (*iam.GetUserPolicyOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		doc, ok := u.Policies[aws.ToString(in.PolicyName)]
		if !ok {
			return nil, apiError("NoSuchEntity", fmt.Sprintf("The user policy with name %s cannot be found.", aws.ToString(in.PolicyName)))
		}
		return &iam.GetUserPolicyOutput{UserName: aws.String(u.Name), PolicyName: in.PolicyName, PolicyDocument: aws.String(encodePolicy(doc))}, nil
	})
}

// PutUserPolicy implements cloud.IAM; it replaces a policy of the same name.
func (c *IAM) PutUserPolicy(ctx context.Context, in *iam.PutUserPolicyInput, _ ...func(*iam.Options)) (*iam.PutUserPolicyOutput, error) {
	return run(ctx, &c.c, "PutUserPolicy", in, func(s *scope, in *iam.PutUserPolicyInput) (*iam.PutUserPolicyOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		if err := checkPolicy(aws.ToString(in.PolicyName), aws.ToString(in.PolicyDocument)); err != nil {
			return nil, err
		}
		if u.Policies == nil {
			u.Policies = map[string]string{}
		}
		u.Policies[aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
		return &iam.PutUserPolicyOutput{}, nil
	})
}

// DeleteUserPolicy implements cloud.IAM.
func (c *IAM) DeleteUserPolicy(ctx context.Context, in *iam.DeleteUserPolicyInput, _ ...func(*iam.Options)) (*iam.DeleteUserPolicyOutput, error) {
	return run(ctx, &c.c, "DeleteUserPolicy", in, func(s *scope, in *iam.DeleteUserPolicyInput) (*iam.DeleteUserPolicyOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		if _, ok := u.Policies[aws.ToString(in.PolicyName)]; !ok {
			return nil, apiError("NoSuchEntity", fmt.Sprintf("The user policy with name %s cannot be found.", aws.ToString(in.PolicyName)))
		}
		delete(u.Policies, aws.ToString(in.PolicyName))
		if len(u.Policies) == 0 {
			u.Policies = nil
		}
		return &iam.DeleteUserPolicyOutput{}, nil
	})
}

// ListUserTags implements cloud.IAM.
func (c *IAM) ListUserTags(ctx context.Context, in *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	return run(ctx, &c.c, "ListUserTags", in, func(s *scope, in *iam.ListUserTagsInput) (*iam.ListUserTagsOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		tags := iamTags(u.Tags)
		if tags == nil {
			tags = []types.Tag{}
		}
		return &iam.ListUserTagsOutput{Tags: tags}, nil
	})
}

// TagUser implements cloud.IAM.
func (c *IAM) TagUser(ctx context.Context, in *iam.TagUserInput, _ ...func(*iam.Options)) (*iam.TagUserOutput, error) {
	return run(ctx, &c.c, "TagUser", in, func(s *scope, in *iam.TagUserInput) (*iam.TagUserOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		return &iam.TagUserOutput{}, addTags(&u.Tags, in.Tags)
	})
}

// UntagUser implements cloud.IAM.
func (c *IAM) UntagUser(ctx context.Context, in *iam.UntagUserInput, _ ...func(*iam.Options)) (*iam.UntagUserOutput, error) {
	return run(ctx, &c.c, "UntagUser", in, func(s *scope, in *iam.UntagUserInput) (*iam.UntagUserOutput, error) {
		u, err := s.user(aws.ToString(in.UserName))
		if err != nil {
			return nil, err
		}
		for _, k := range in.TagKeys {
			delete(u.Tags, k)
		}
		return &iam.UntagUserOutput{}, nil
	})
}

// GetRole implements cloud.IAM.
func (c *IAM) GetRole(ctx context.Context, in *iam.GetRoleInput, _ ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	return run(ctx, &c.c, "GetRole", in, func(s *scope, in *iam.GetRoleInput) (*iam.GetRoleOutput, error) {
		r, err := s.role(aws.ToString(in.RoleName))
		if err != nil {
			return nil, err
		}
		return &iam.GetRoleOutput{Role: &types.Role{RoleName: aws.String(r.Name), Arn: aws.String(s.arn("iam", "role/"+r.Name)), Path: aws.String("/"), Tags: iamTags(r.Tags)}}, nil
	})
}

// GetRolePolicy implements cloud.IAM; the document comes back URL-encoded, as from IAM.
func (c *IAM) GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, _ ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error) {
	return run(ctx, &c.c, "GetRolePolicy", in, func(s *scope, in *iam.GetRolePolicyInput) (*iam.GetRolePolicyOutput, error) {
		r, err := s.role(aws.ToString(in.RoleName))
		if err != nil {
			return nil, err
		}
		doc, ok := r.Policies[aws.ToString(in.PolicyName)]
		if !ok {
			return nil, apiError("NoSuchEntity", fmt.Sprintf("The role policy with name %s cannot be found.", aws.ToString(in.PolicyName)))
		}
		return &iam.GetRolePolicyOutput{RoleName: aws.String(r.Name), PolicyName: in.PolicyName, PolicyDocument: aws.String(encodePolicy(doc))}, nil
	})
}

// PutRolePolicy implements cloud.IAM; it replaces a policy of the same name.
func (c *IAM) PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	return run(ctx, &c.c, "PutRolePolicy", in, func(s *scope, in *iam.PutRolePolicyInput) (*iam.PutRolePolicyOutput, error) {
		r, err := s.role(aws.ToString(in.RoleName))
		if err != nil {
			return nil, err
		}
		if err := checkPolicy(aws.ToString(in.PolicyName), aws.ToString(in.PolicyDocument)); err != nil {
			return nil, err
		}
		if r.Policies == nil {
			r.Policies = map[string]string{}
		}
		r.Policies[aws.ToString(in.PolicyName)] = aws.ToString(in.PolicyDocument)
		return &iam.PutRolePolicyOutput{}, nil
	})
}

// DeleteRolePolicy implements cloud.IAM.
func (c *IAM) DeleteRolePolicy(ctx context.Context, in *iam.DeleteRolePolicyInput, _ ...func(*iam.Options)) (*iam.DeleteRolePolicyOutput, error) {
	return run(ctx, &c.c, "DeleteRolePolicy", in, func(s *scope, in *iam.DeleteRolePolicyInput) (*iam.DeleteRolePolicyOutput, error) {
		r, err := s.role(aws.ToString(in.RoleName))
		if err != nil {
			return nil, err
		}
		if _, ok := r.Policies[aws.ToString(in.PolicyName)]; !ok {
			return nil, apiError("NoSuchEntity", fmt.Sprintf("The role policy with name %s cannot be found.", aws.ToString(in.PolicyName)))
		}
		delete(r.Policies, aws.ToString(in.PolicyName))
		if len(r.Policies) == 0 {
			r.Policies = nil
		}
		return &iam.DeleteRolePolicyOutput{}, nil
	})
}

// TagRole implements cloud.IAM.
func (c *IAM) TagRole(ctx context.Context, in *iam.TagRoleInput, _ ...func(*iam.Options)) (*iam.TagRoleOutput, error) {
	return run(ctx, &c.c, "TagRole", in, func(s *scope, in *iam.TagRoleInput) (*iam.TagRoleOutput, error) {
		r, err := s.role(aws.ToString(in.RoleName))
		if err != nil {
			return nil, err
		}
		return &iam.TagRoleOutput{}, addTags(&r.Tags, in.Tags)
	})
}

// UntagRole implements cloud.IAM.
func (c *IAM) UntagRole(ctx context.Context, in *iam.UntagRoleInput, _ ...func(*iam.Options)) (*iam.UntagRoleOutput, error) {
	return run(ctx, &c.c, "UntagRole", in, func(s *scope, in *iam.UntagRoleInput) (*iam.UntagRoleOutput, error) {
		r, err := s.role(aws.ToString(in.RoleName))
		if err != nil {
			return nil, err
		}
		for _, k := range in.TagKeys {
			delete(r.Tags, k)
		}
		if len(r.Tags) == 0 {
			r.Tags = nil
		}
		return &iam.UntagRoleOutput{}, nil
	})
}
