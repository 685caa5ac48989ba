package cli

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/firebreak-sec/firebreak/internal/anchor"
	"github.com/firebreak-sec/firebreak/internal/config"
)

// newAnchor builds the audit anchor of c, writing with the server's own credentials.
func newAnchor(awsCfg aws.Config, c config.Anchor, writer string) (*anchor.Anchor, error) {
	bucket, prefix, err := anchor.ParseURL(c.Location)
	if err != nil {
		return nil, usageErr("audit.anchor.location: %v", err)
	}
	cfg := awsCfg.Copy()
	if c.Region != "" {
		cfg.Region = c.Region
	}
	// An endpoint of one's own (moto, LocalStack) addresses buckets in the path.
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = cfg.BaseEndpoint != nil })
	return &anchor.Anchor{S3: client, Bucket: bucket, Prefix: prefix, Mode: c.Mode, Retention: c.Retention, Writer: writer}, nil
}
