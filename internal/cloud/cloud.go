// Package cloud is Firebreak's boundary with AWS: the operations actions may call, per
// service, and the Provider that hands out clients per (account, region). The real AWS SDK
// clients satisfy these interfaces, and so does the simulated organisation in cloud/sim.
package cloud

import "context"

// Provider hands out service clients acting in one member account and region. It is the
// one place that builds clients: credentials and clients are cached per account and region.
// IAM is global; its region argument is ignored. WAF with CLOUDFRONT scope lives in us-east-1.
type Provider interface {
	EC2(ctx context.Context, account, region string) (EC2, error)
	IAM(ctx context.Context, account string) (IAM, error)
	CloudTrail(ctx context.Context, account, region string) (CloudTrail, error)
	WAF(ctx context.Context, account, region string) (WAF, error)
	S3(ctx context.Context, account, region string) (S3, error)
	SSM(ctx context.Context, account, region string) (SSM, error)
	SecurityHub(ctx context.Context, account, region string) (SecurityHub, error)
	GuardDuty(ctx context.Context, account, region string) (GuardDuty, error)
	NetworkFirewall(ctx context.Context, account, region string) (NetworkFirewall, error)
	AutoScaling(ctx context.Context, account, region string) (AutoScaling, error)
	ELBv2(ctx context.Context, account, region string) (ELBv2, error)
	SNS(ctx context.Context, account, region string) (SNS, error)
}
