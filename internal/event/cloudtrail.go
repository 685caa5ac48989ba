package event

import (
	"errors"
)

// cloudTrailSeverity rates API calls that matter to incident response, keyed by
// eventSource:eventName. Calls not listed are 0: a record of activity, not a finding.
//
//	call                                              severity  why
//	cloudtrail StopLogging, DeleteTrail                   8     blinds the audit trail
//	guardduty DeleteDetector, config StopConfigurationRecorder,
//	  DeleteConfigurationRecorder, securityhub
//	  DisableSecurityHub                                  8     disables detection
//	kms ScheduleKeyDeletion                               6     can destroy data for good
//	cloudtrail UpdateTrail, PutEventSelectors             5     can narrow what is logged
//	iam CreateAccessKey, AttachUserPolicy, PutUserPolicy,
//	  CreateLoginProfile, UpdateAssumeRolePolicy,
//	  DeactivateMFADevice                                 5     persistence, escalation
//	ec2 AuthorizeSecurityGroupIngress                     4     opens the network
//	s3 PutBucketPolicy, PutBucketAcl,
//	  DeleteBucketPublicAccessBlock                       4     may expose data
//	iam CreateUser                                        3
//	signin ConsoleLogin                                   2     (root: see cloudTrailActorSeverity)
var cloudTrailSeverity = map[string]float64{
	"cloudtrail.amazonaws.com:StopLogging":             8,
	"cloudtrail.amazonaws.com:DeleteTrail":             8,
	"guardduty.amazonaws.com:DeleteDetector":           8,
	"config.amazonaws.com:StopConfigurationRecorder":   8,
	"config.amazonaws.com:DeleteConfigurationRecorder": 8,
	"securityhub.amazonaws.com:DisableSecurityHub":     8,
	"kms.amazonaws.com:ScheduleKeyDeletion":            6,
	"cloudtrail.amazonaws.com:UpdateTrail":             5,
	"cloudtrail.amazonaws.com:PutEventSelectors":       5,
	"iam.amazonaws.com:CreateAccessKey":                5,
	"iam.amazonaws.com:AttachUserPolicy":               5,
	"iam.amazonaws.com:PutUserPolicy":                  5,
	"iam.amazonaws.com:CreateLoginProfile":             5,
	"iam.amazonaws.com:UpdateAssumeRolePolicy":         5,
	"iam.amazonaws.com:DeactivateMFADevice":            5,
	"ec2.amazonaws.com:AuthorizeSecurityGroupIngress":  4,
	"s3.amazonaws.com:PutBucketPolicy":                 4,
	"s3.amazonaws.com:PutBucketAcl":                    4,
	"s3.amazonaws.com:DeleteBucketPublicAccessBlock":   4,
	"iam.amazonaws.com:CreateUser":                     3,
	"signin.amazonaws.com:ConsoleLogin":                2,
}

// cloudTrailActorSeverity is the least severity of any call made by an identity type:
// the root user is meant never to be used day to day (CIS AWS Foundations 1.7).
var cloudTrailActorSeverity = map[string]float64{
	"Root": 7,
}

// requestResources says which fields of requestParameters (and responseElements) name
// a resource, and of which kind. Values may be ids or ARNs.
var requestResources = []struct {
	field string
	kind  Kind
}{
	{"name", KindTrail}, // only for cloudtrail.amazonaws.com, see cloudTrail
	{"trailName", KindTrail},
	{"userName", KindIAMUser},
	{"roleName", KindIAMRole},
	{"accessKeyId", KindAccessKey},
	{"bucketName", KindS3Bucket},
	{"groupId", KindSecurityGroup},
	{"instanceId", KindInstance},
	{"functionName", KindLambdaFunction},
	{"dBInstanceIdentifier", KindRDSInstance},
	{"dbInstanceIdentifier", KindRDSInstance},
}

// cloudTrail normalises a CloudTrail record (the detail of an "AWS API Call via
// CloudTrail" or "AWS Console Sign In via CloudTrail" event).
func cloudTrail(e *Event, d map[string]any) error {
	src, name := str(d, "eventSource"), str(d, "eventName")
	if src == "" || name == "" {
		return errors.New(`CloudTrail record has no "eventSource" or "eventName"; the detail must be a CloudTrail record`)
	}
	e.Source = SourceCloudTrail
	e.Type = src + ":" + name
	e.FindingID = str(d, "eventID")
	if r := str(d, "awsRegion"); r != "" {
		e.Region = r
	}
	b := newBuilder(e)
	id := obj(d, "userIdentity")
	issuer := dig(id, "sessionContext", "sessionIssuer")
	actor := &Actor{
		ARN:           str(id, "arn"),
		Type:          str(id, "type"),
		PrincipalID:   str(id, "principalId"),
		Account:       str(id, "accountId"),
		AccessKeyID:   str(id, "accessKeyId"),
		UserName:      str(id, "userName"),
		SessionIssuer: str(issuer, "arn"),
	}
	if actor.UserName == "" && actor.Type == "AssumedRole" {
		actor.UserName = str(issuer, "userName")
	}
	e.Actor = actor
	e.Severity = cloudTrailSeverity[e.Type]
	if s := cloudTrailActorSeverity[actor.Type]; s > e.Severity {
		e.Severity = s
	}
	who := actor.UserName
	if actor.Type == "Root" {
		who = "root"
	}
	if who == "" {
		who = actor.ARN
	}
	if who == "" {
		who = actor.Type
	}
	e.Title = name + " by " + who
	if code := str(d, "errorCode"); code != "" {
		e.Description = code + ": " + str(d, "errorMessage")
		b.detail("error_code", code)
	}
	b.detail("event_type", str(d, "eventType"))
	if resp := obj(d, "responseElements"); resp != nil {
		b.detail("console_login", str(resp, "ConsoleLogin"))
	}
	if mfa := str(obj(d, "additionalEventData"), "MFAUsed"); mfa != "" {
		b.detail("mfa_used", mfa)
	}

	// What the call acted on.
	ctResources(b, src, obj(d, "requestParameters"))
	resp := obj(d, "responseElements")
	if k := obj(resp, "accessKey"); k != nil {
		r := b.add(Resource{Kind: KindAccessKey, ID: str(k, "accessKeyId")})
		setDetail(r, "user_name", str(k, "userName"))
	}
	ctResources(b, src, resp)
	for _, r := range objects(arr(d, "resources")) {
		if res, ok := resourceFromARN(str(r, "ARN")); ok {
			b.add(res)
		}
	}
	envelopeResources(b, e.Envelope)

	// Who made it.
	if ip := str(d, "sourceIPAddress"); isIP(ip) {
		b.remoteIP(ip)
	}
	b.userAgent(str(d, "userAgent"))
	switch actor.Type {
	case "IAMUser":
		setDetail(b.add(Resource{Kind: KindIAMUser, ID: actor.UserName, ARN: actor.ARN, Account: actor.Account}), "role", "actor")
	case "AssumedRole":
		if r, ok := resourceFromARN(actor.SessionIssuer); ok && r.Kind == KindIAMRole {
			setDetail(b.add(r), "role", "actor")
		}
	case "Root":
		setDetail(b.add(Resource{Kind: KindAccount, ID: actor.Account}), "role", "actor")
	}
	if actor.AccessKeyID != "" {
		r := b.add(Resource{Kind: KindAccessKey, ID: actor.AccessKeyID, Account: actor.Account})
		setDetail(r, "role", "actor")
		setDetail(r, "user_name", actor.UserName)
	}
	return nil
}

// ctResources adds the resources named by the fields of a request or response, and by
// the instance lists EC2 calls carry.
func ctResources(b *builder, src string, params map[string]any) {
	if params == nil {
		return
	}
	for _, f := range requestResources {
		if f.field == "name" && src != "cloudtrail.amazonaws.com" {
			continue
		}
		v := str(params, f.field)
		if v == "" {
			continue
		}
		if r, ok := resourceFromARN(v); ok && r.Kind == f.kind {
			b.add(r)
			continue
		}
		b.add(Resource{Kind: f.kind, ID: v})
	}
	if src == "eks.amazonaws.com" {
		if v := str(params, "name"); v != "" {
			b.add(Resource{Kind: KindEKSCluster, ID: v})
		}
	}
	for _, it := range objects(arr(obj(params, "instancesSet"), "items")) {
		b.add(Resource{Kind: KindInstance, ID: str(it, "instanceId")})
	}
	for _, g := range groupIDs(arr(obj(params, "groupSet"), "items")) {
		b.add(Resource{Kind: KindSecurityGroup, ID: g})
	}
}
