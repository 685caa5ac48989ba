package e2e

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/firebreak-sec/firebreak/internal/cloud"
	awscloud "github.com/firebreak-sec/firebreak/internal/cloud/aws"
)

// motoCloud is Firebreak's AWS provider pointed at moto, with two of moto's deviations
// corrected underneath the actions. Each correction makes, besides the action's own call,
// a call that on AWS leaves exactly the state the action's call leaves, so the actions
// above still make the calls they make on AWS and the comparison stays fair:
//
//   - moto reports a primary network interface's groups as the union of the interface's
//     groups and the instance's, so ec2:ModifyNetworkInterfaceAttribute with Groups seems
//     to add groups (moto.Deviations), and ec2:ModifyInstanceAttribute with Groups alone
//     does too. Setting the same groups through both replaces them in moto; on AWS both
//     calls set the groups of the same interface.
//   - moto's iam:CreateLoginProfile ignores PasswordResetRequired. iam:UpdateLoginProfile
//     with the same password and the flag sets it, on AWS as in moto.
type motoCloud struct {
	*awscloud.Provider
	corrections *corrections
}

// corrections records which corrections a scenario needed, so that its output names them.
type corrections struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *corrections) add(what string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[what]++
}

func (c *corrections) used() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}

// Corrections, as they are named in the suite's output.
const (
	correctENIGroups      = "ec2:ModifyNetworkInterfaceAttribute adds groups instead of replacing them; the primary interface's groups were also set with ec2:ModifyInstanceAttribute"
	correctPasswordReset  = "iam:CreateLoginProfile ignores PasswordResetRequired; it was set with iam:UpdateLoginProfile"
	correctionsPrefixNote = "moto deviation handled in the harness: "
)

// EC2 returns the provider's client with the group replacement corrected.
func (m motoCloud) EC2(ctx context.Context, account, region string) (cloud.EC2, error) {
	c, err := m.Provider.EC2(ctx, account, region)
	if err != nil {
		return nil, err
	}
	return replaceGroups{EC2: c, note: m.corrections}, nil
}

// IAM returns the provider's client with PasswordResetRequired corrected.
func (m motoCloud) IAM(ctx context.Context, account string) (cloud.IAM, error) {
	c, err := m.Provider.IAM(ctx, account)
	if err != nil {
		return nil, err
	}
	u, ok := c.(loginProfileUpdater)
	if !ok {
		return nil, fmt.Errorf("the IAM client of %s cannot update login profiles", account)
	}
	return resetRequired{IAM: c, update: u, note: m.corrections}, nil
}

type replaceGroups struct {
	cloud.EC2
	note *corrections
}

// ModifyNetworkInterfaceAttribute also sets a primary interface's groups on its instance.
func (c replaceGroups) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2.ModifyNetworkInterfaceAttributeInput, optFns ...func(*ec2.Options)) (*ec2.ModifyNetworkInterfaceAttributeOutput, error) {
	if in.Groups != nil {
		out, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{aws.ToString(in.NetworkInterfaceId)}})
		if err != nil {
			return nil, err
		}
		if len(out.NetworkInterfaces) == 1 {
			att := out.NetworkInterfaces[0].Attachment
			if att != nil && aws.ToInt32(att.DeviceIndex) == 0 && aws.ToString(att.InstanceId) != "" {
				if _, err := c.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: att.InstanceId, Groups: in.Groups}, optFns...); err != nil {
					return nil, err
				}
				c.note.add(correctENIGroups)
			}
		}
	}
	return c.EC2.ModifyNetworkInterfaceAttribute(ctx, in, optFns...)
}

type loginProfileUpdater interface {
	UpdateLoginProfile(ctx context.Context, in *iam.UpdateLoginProfileInput, optFns ...func(*iam.Options)) (*iam.UpdateLoginProfileOutput, error)
}

type resetRequired struct {
	cloud.IAM
	update loginProfileUpdater
	note   *corrections
}

// CreateLoginProfile also sets PasswordResetRequired when the call asks for it.
func (c resetRequired) CreateLoginProfile(ctx context.Context, in *iam.CreateLoginProfileInput, optFns ...func(*iam.Options)) (*iam.CreateLoginProfileOutput, error) {
	out, err := c.IAM.CreateLoginProfile(ctx, in, optFns...)
	if err != nil || !in.PasswordResetRequired {
		return out, err
	}
	if _, err := c.update.UpdateLoginProfile(ctx, &iam.UpdateLoginProfileInput{UserName: in.UserName, Password: in.Password,
		PasswordResetRequired: aws.Bool(true)}, optFns...); err != nil {
		return nil, err
	}
	c.note.add(correctPasswordReset)
	if out.LoginProfile != nil {
		out.LoginProfile.PasswordResetRequired = true
	}
	return out, nil
}
