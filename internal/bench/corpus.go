// Package bench measures Firebreak's decision pipeline (reading, normalising and deciding)
// against plain JSON decoding, over a generated corpus that resembles what a large AWS
// organisation sends in a busy hour, and playbook libraries of increasing size.
//
// The corpus is built in memory from the example events in examples/events, varied by a
// seeded random source, so that every run measures the same bytes.
package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Accounts are the organisation's member accounts, shared by the corpus and the generated
// playbooks so that account filters sometimes match.
var Accounts = func() []string {
	out := make([]string, 50)
	for i := range out {
		out[i] = fmt.Sprintf("%012d", 100000000000+int64(i)*7919*13)
	}
	return out
}()

// Regions are the regions events come from.
var Regions = []string{"us-east-1", "us-east-1", "us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}

// GuardDutyTypes are GuardDuty finding types across the threat purposes, roughly in the
// proportions a large organisation sees them (repeats weight the common ones).
var GuardDutyTypes = []string{
	"Backdoor:EC2/C&CActivity.B", "Backdoor:EC2/C&CActivity.B!DNS", "Backdoor:EC2/DenialOfService.Tcp",
	"Backdoor:EC2/DenialOfService.Udp", "Backdoor:EC2/Spambot", "Backdoor:Runtime/C&CActivity.B",
	"Trojan:EC2/BlackholeTraffic", "Trojan:EC2/DNSDataExfiltration", "Trojan:EC2/DropPoint",
	"Trojan:EC2/PhishingDomainRequest!DNS", "Trojan:Runtime/DriveBySourceTraffic!DNS",
	"CryptoCurrency:EC2/BitcoinTool.B", "CryptoCurrency:EC2/BitcoinTool.B!DNS", "CryptoCurrency:Runtime/BitcoinTool.B",
	"Recon:EC2/PortProbeUnprotectedPort", "Recon:EC2/PortProbeUnprotectedPort", "Recon:EC2/PortProbeUnprotectedPort",
	"Recon:EC2/PortProbeEMRUnprotectedPort", "Recon:EC2/Portscan", "Recon:IAMUser/MaliciousIPCaller",
	"Recon:IAMUser/TorIPCaller", "Recon:IAMUser/MaliciousIPCaller.Custom",
	"UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/SSHBruteForce", "UnauthorizedAccess:EC2/RDPBruteForce",
	"UnauthorizedAccess:EC2/TorClient", "UnauthorizedAccess:EC2/TorRelay", "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
	"UnauthorizedAccess:IAMUser/MaliciousIPCaller", "UnauthorizedAccess:IAMUser/TorIPCaller",
	"UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
	"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
	"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
	"Policy:IAMUser/RootCredentialUsage", "Policy:IAMUser/RootCredentialUsage", "Policy:S3/BucketBlockPublicAccessDisabled",
	"Policy:S3/BucketAnonymousAccessGranted", "Policy:S3/AccountBlockPublicAccessDisabled",
	"Discovery:S3/MaliciousIPCaller", "Discovery:S3/TorIPCaller", "Discovery:IAMUser/AnomalousBehavior",
	"Discovery:Kubernetes/SuccessfulAnonymousAccess", "Discovery:S3/AnomalousBehavior",
	"Impact:EC2/WinRMBruteForce", "Impact:EC2/PortSweep", "Impact:EC2/AbusedDomainRequest.Reputation",
	"Impact:S3/MaliciousIPCaller", "Impact:IAMUser/AnomalousBehavior",
	"Exfiltration:S3/AnomalousBehavior", "Exfiltration:IAMUser/AnomalousBehavior",
	"Persistence:IAMUser/AnomalousBehavior", "PrivilegeEscalation:IAMUser/AnomalousBehavior",
	"PrivilegeEscalation:Runtime/ContainerMountsHostDirectory", "Execution:Runtime/NewBinaryExecuted",
	"Execution:EC2/MaliciousFile", "Stealth:IAMUser/CloudTrailLoggingDisabled", "Stealth:S3/ServerAccessLoggingDisabled",
	"DefenseEvasion:EC2/UnusualDNSResolver", "CredentialAccess:IAMUser/AnomalousBehavior",
	"PenTest:IAMUser/KaliLinux", "PenTest:S3/KaliLinux", "InitialAccess:IAMUser/AnomalousBehavior",
}

// guardDutySeverities are the severities GuardDuty assigns, low, medium and high.
var guardDutySeverities = []float64{1, 2, 2, 3.5, 5, 5, 5, 5.3, 6, 8, 8, 8, 8.9}

// CloudTrailCalls are API calls by service (eventSource), most of them routine calls no
// playbook cares about.
var CloudTrailCalls = map[string][]string{
	"ec2.amazonaws.com": {"RunInstances", "TerminateInstances", "StartInstances", "StopInstances", "DescribeInstances",
		"DescribeSecurityGroups", "AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "CreateSnapshot",
		"ModifyInstanceAttribute", "CreateTags", "DeleteTags", "CreateVolume", "AttachVolume", "CreateKeyPair",
		"ModifySnapshotAttribute", "DisableEbsEncryptionByDefault", "CreateVpc", "DeleteFlowLogs"},
	"iam.amazonaws.com": {"CreateUser", "DeleteUser", "CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey",
		"AttachUserPolicy", "AttachRolePolicy", "PutUserPolicy", "PutRolePolicy", "CreateRole", "UpdateAssumeRolePolicy",
		"CreateLoginProfile", "UpdateLoginProfile", "DeactivateMFADevice", "ListUsers", "GetUser", "ListRoles",
		"AddUserToGroup", "CreatePolicyVersion"},
	"s3.amazonaws.com": {"CreateBucket", "DeleteBucket", "PutBucketPolicy", "DeleteBucketPolicy", "PutBucketAcl",
		"PutBucketPublicAccessBlock", "DeleteBucketPublicAccessBlock", "PutBucketLogging", "PutBucketVersioning",
		"PutBucketEncryption", "DeleteBucketEncryption", "PutBucketReplication", "PutBucketLifecycle"},
	"cloudtrail.amazonaws.com": {"StopLogging", "DeleteTrail", "UpdateTrail", "StartLogging", "CreateTrail",
		"DescribeTrails", "GetTrailStatus", "LookupEvents", "PutEventSelectors"},
	"kms.amazonaws.com": {"CreateKey", "DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "CreateGrant",
		"RetireGrant", "EnableKeyRotation", "DisableKeyRotation"},
	"sts.amazonaws.com":       {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetFederationToken", "GetSessionToken"},
	"lambda.amazonaws.com":    {"CreateFunction20150331", "UpdateFunctionCode20150331v2", "AddPermission20150331v2", "DeleteFunction20150331"},
	"rds.amazonaws.com":       {"CreateDBInstance", "ModifyDBInstance", "DeleteDBInstance", "ModifyDBSnapshotAttribute", "CreateDBSnapshot"},
	"guardduty.amazonaws.com": {"DeleteDetector", "UpdateDetector", "DisassociateFromMasterAccount", "CreateIPSet", "ArchiveFindings"},
	"config.amazonaws.com":    {"StopConfigurationRecorder", "DeleteConfigurationRecorder", "PutConfigRule", "DeleteDeliveryChannel"},
	"organizations.amazonaws.com": {"LeaveOrganization", "CreateAccount", "InviteAccountToOrganization", "AttachPolicy",
		"DetachPolicy"},
	"secretsmanager.amazonaws.com": {"CreateSecret", "PutSecretValue", "DeleteSecret", "RotateSecret", "PutResourcePolicy"},
	"logs.amazonaws.com":           {"DeleteLogGroup", "PutRetentionPolicy", "CreateLogGroup", "DeleteSubscriptionFilter"},
}

// cloudTrailServices are the keys of CloudTrailCalls in a fixed order, so that generation
// does not depend on map iteration.
var cloudTrailServices = func() []string {
	out := make([]string, 0, len(CloudTrailCalls))
	for s := range CloudTrailCalls {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}()

// SecurityHubControls are Security Hub control ids, with the ASFF resource type each
// concerns.
var SecurityHubControls = []struct{ Control, ResourceType string }{
	{"EC2.19", "AwsEc2SecurityGroup"}, {"EC2.18", "AwsEc2SecurityGroup"}, {"EC2.13", "AwsEc2SecurityGroup"},
	{"EC2.2", "AwsEc2SecurityGroup"}, {"EC2.53", "AwsEc2SecurityGroup"}, {"EC2.8", "AwsEc2Instance"},
	{"EC2.9", "AwsEc2Instance"}, {"EC2.7", "AwsAccount"},
	{"S3.8", "AwsS3Bucket"}, {"S3.2", "AwsS3Bucket"}, {"S3.3", "AwsS3Bucket"}, {"S3.5", "AwsS3Bucket"},
	{"S3.9", "AwsS3Bucket"}, {"S3.1", "AwsAccount"},
	{"IAM.1", "AwsIamPolicy"}, {"IAM.3", "AwsIamUser"}, {"IAM.4", "AwsAccount"}, {"IAM.5", "AwsIamUser"},
	{"IAM.6", "AwsAccount"}, {"IAM.8", "AwsIamUser"},
	{"CloudTrail.1", "AwsAccount"}, {"CloudTrail.2", "AwsCloudTrailTrail"}, {"CloudTrail.4", "AwsCloudTrailTrail"},
	{"Lambda.1", "AwsLambdaFunction"}, {"Lambda.2", "AwsLambdaFunction"},
	{"RDS.1", "AwsRdsDbSnapshot"}, {"RDS.2", "AwsRdsDbInstance"}, {"RDS.3", "AwsRdsDbInstance"},
	{"EKS.1", "AwsEksCluster"}, {"EKS.2", "AwsEksCluster"}, {"KMS.4", "AwsKmsKey"}, {"GuardDuty.1", "AwsAccount"},
}

// HealthEventTypes are AWS Health event type codes with their service.
var HealthEventTypes = []struct{ Code, Service string }{
	{"AWS_ABUSE_DOS_REPORT", "ABUSE"}, {"AWS_ABUSE_PORT_SCAN_REPORT", "ABUSE"}, {"AWS_ABUSE_EMAIL_SPAM_REPORT", "ABUSE"},
	{"AWS_ABUSE_COPYRIGHT_DMCA_REPORT", "ABUSE"},
	{"AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "EC2"}, {"AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED", "EC2"},
	{"AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED", "EC2"}, {"AWS_EBS_VOLUME_LOST", "EBS"},
	{"AWS_RDS_MAINTENANCE_SCHEDULED", "RDS"}, {"AWS_RDS_HARDWARE_MAINTENANCE_SCHEDULED", "RDS"},
	{"AWS_IAM_OPERATIONAL_ISSUE", "IAM"}, {"AWS_RISK_CREDENTIALS_EXPOSED", "RISK"},
}

// CustomSources are in-house detectors that publish to the organisation's event bus, with
// the detail-types they send.
var CustomSources = []struct {
	Source      string
	DetailTypes []string
}{
	{"com.example.edr", []string{"EDR Alert", "EDR Host Isolated", "EDR Sensor Offline"}},
	{"com.example.siem", []string{"Correlated Alert", "Watchlist Hit"}},
	{"com.example.canary", []string{"Canary Token Triggered"}},
	{"com.example.vuln-scanner", []string{"Scan Completed", "Critical Vulnerability Found"}},
	{"com.example.deploy", []string{"Deployment Started", "Deployment Completed", "Deployment Failed"}},
	{"com.example.idp", []string{"Impossible Travel", "MFA Fatigue Suspected", "Password Spray Detected"}},
}

// CorpusStats says what a generated corpus holds.
type CorpusStats struct {
	Values int            // JSON values (lines)
	Bytes  int            // total size
	ByKind map[string]int // values per family: guardduty, securityhub, cloudtrail, signin, health, cloudwatch, custom
}

// Generator builds a corpus from the example events.
type Generator struct {
	rng *rand.Rand
	// templates by family, each decoded afresh from its bytes for every generated value
	// so that variations never leak between values.
	gdInstance, gdPrincipal, securityHub, cloudTrail, signin, health [][]byte
}

// NewGenerator reads the example events in dir and prepares a generator seeded with seed.
func NewGenerator(dir string, seed uint64) (*Generator, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no example events in %s", dir)
	}
	slices.Sort(files)
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		base := filepath.Base(f)
		switch {
		case strings.HasPrefix(base, "guardduty-"):
			rt, _ := dig(m, "detail", "resource", "resourceType").(string)
			if rt == "Instance" {
				g.gdInstance = append(g.gdInstance, data)
			} else {
				g.gdPrincipal = append(g.gdPrincipal, data)
			}
		case strings.HasPrefix(base, "securityhub-"):
			g.securityHub = append(g.securityHub, data)
		case strings.HasPrefix(base, "cloudtrail-"):
			g.cloudTrail = append(g.cloudTrail, data)
		case strings.HasPrefix(base, "signin-"):
			g.signin = append(g.signin, data)
		case strings.HasPrefix(base, "health-"):
			g.health = append(g.health, data)
		}
	}
	for name, t := range map[string][][]byte{"GuardDuty instance": g.gdInstance, "GuardDuty principal": g.gdPrincipal,
		"Security Hub": g.securityHub, "CloudTrail": g.cloudTrail, "sign-in": g.signin, "Health": g.health} {
		if len(t) == 0 {
			return nil, fmt.Errorf("no %s example event in %s", name, dir)
		}
	}
	return g, nil
}

// Corpus returns n JSON values as newline-delimited JSON. The mix follows what an
// organisation's event bus carries: CloudTrail calls and GuardDuty findings dominate,
// then Security Hub imports (one to three findings each), Health, alarms and in-house
// detectors.
func (g *Generator) Corpus(n int) ([]byte, CorpusStats) {
	st := CorpusStats{ByKind: map[string]int{}}
	var buf bytes.Buffer
	buf.Grow(n * 3000)
	for range n {
		var v map[string]any
		var kind string
		switch r := g.rng.IntN(100); {
		case r < 34:
			v, kind = g.guardDuty(), "guardduty"
		case r < 66:
			v, kind = g.cloudTrailCall(), "cloudtrail"
		case r < 69:
			v, kind = g.signIn(), "signin"
		case r < 83:
			v, kind = g.securityHubImport(), "securityhub"
		case r < 88:
			v, kind = g.healthEvent(), "health"
		case r < 92:
			v, kind = g.alarm(), "cloudwatch"
		default:
			v, kind = g.customEvent(), "custom"
		}
		data, err := json.Marshal(v)
		if err != nil {
			// Only values decoded from JSON and generated strings and numbers are marshalled.
			panic(err)
		}
		buf.Write(data)
		buf.WriteByte('\n')
		st.ByKind[kind]++
	}
	st.Values, st.Bytes = n, buf.Len()
	return buf.Bytes(), st
}

func (g *Generator) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *Generator) template(ts [][]byte) map[string]any {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(ts[g.rng.IntN(len(ts))]))
	dec.UseNumber() // keep numbers as written, as the pipeline reads them
	if err := dec.Decode(&m); err != nil {
		panic(err) // the templates were decoded once already in NewGenerator
	}
	return m
}

func (g *Generator) uuid() string {
	a, b := g.rng.Uint64(), g.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, 0x8000|b>>48&0x3fff, b&0xffffffffffff)
}

func (g *Generator) hex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *Generator) publicIP() string {
	// Documentation and benchmarking ranges only, so that no real address appears in the corpus.
	switch g.rng.IntN(4) {
	case 0:
		return fmt.Sprintf("192.0.2.%d", 1+g.rng.IntN(254))
	case 1:
		return fmt.Sprintf("198.51.100.%d", 1+g.rng.IntN(254))
	case 2:
		return fmt.Sprintf("203.0.113.%d", 1+g.rng.IntN(254))
	}
	return fmt.Sprintf("198.%d.%d.%d", 18+g.rng.IntN(2), g.rng.IntN(256), 1+g.rng.IntN(254))
}

func (g *Generator) timestamp() string {
	return fmt.Sprintf("2025-11-%02dT%02d:%02d:%02dZ", 1+g.rng.IntN(28), g.rng.IntN(24), g.rng.IntN(60), g.rng.IntN(60))
}

func (g *Generator) environment() string {
	return g.pick([]string{"prod", "prod", "prod", "staging", "dev", "dev", "sandbox"})
}

// envelopeBasics gives a generated EventBridge envelope its own id, account, region and time.
func (g *Generator) envelopeBasics(m map[string]any) (account, region string) {
	account, region = g.pick(Accounts), g.pick(Regions)
	m["id"], m["account"], m["region"], m["time"] = g.uuid(), account, region, g.timestamp()
	return account, region
}

func (g *Generator) guardDuty() map[string]any {
	typ := g.pick(GuardDutyTypes)
	onInstance := strings.Contains(typ, ":EC2/") || strings.Contains(typ, ":Runtime/")
	var m map[string]any
	if onInstance {
		m = g.template(g.gdInstance)
	} else {
		m = g.template(g.gdPrincipal)
	}
	account, region := g.envelopeBasics(m)
	d := m["detail"].(map[string]any)
	fid := g.hex(32)
	d["id"], d["type"], d["accountId"], d["region"] = fid, typ, account, region
	d["arn"] = "arn:aws:guardduty:" + region + ":" + account + ":detector/12abc34d567e8fa901bc2d34e56789f0/finding/" + fid
	d["severity"] = json.Number(fmt.Sprint(g.pick64(guardDutySeverities)))
	d["updatedAt"] = m["time"]
	if s, ok := d["service"].(map[string]any); ok {
		s["archived"] = g.rng.IntN(20) == 0
		if onInstance {
			s["resourceRole"] = g.pick([]string{"ACTOR", "TARGET"})
		}
	}
	instance := "i-0" + g.hex(16)
	env := g.environment()
	rewrite(m, func(k string, v any) (any, bool) {
		switch k {
		case "instanceId":
			return instance, true
		case "remoteIpDetails":
			// Only the remote side varies: the instance's own addresses stay private.
			if r, ok := v.(map[string]any); ok {
				r["ipAddressV4"] = g.publicIP()
			}
		case "accountId", "recipientAccountId":
			return account, true
		}
		return nil, false
	})
	if tags, ok := dig(d, "resource", "instanceDetails", "tags").([]any); ok {
		for _, t := range tags {
			if t, ok := t.(map[string]any); ok && t["key"] == "Environment" {
				t["value"] = env
			}
		}
	}
	return m
}

func (g *Generator) pick64(s []float64) float64 { return s[g.rng.IntN(len(s))] }

func (g *Generator) cloudTrailCall() map[string]any {
	m := g.template(g.cloudTrail)
	account, region := g.envelopeBasics(m)
	svc := g.pick(cloudTrailServices)
	name := g.pick(CloudTrailCalls[svc])
	m["source"] = "aws." + strings.TrimSuffix(svc, ".amazonaws.com")
	d := m["detail"].(map[string]any)
	d["eventSource"], d["eventName"], d["awsRegion"] = svc, name, region
	d["eventTime"], d["eventID"], d["requestID"] = m["time"], g.uuid(), g.uuid()
	d["sourceIPAddress"] = g.publicIP()
	d["recipientAccountId"] = account
	delete(d, "errorCode")
	delete(d, "errorMessage")
	if g.rng.IntN(10) == 0 {
		d["errorCode"], d["errorMessage"] = "AccessDenied", "User is not authorized to perform this operation"
	}
	user := fmt.Sprintf("user-%03d", g.rng.IntN(400))
	ui := map[string]any{"accountId": account, "principalId": "AIDA" + strings.ToUpper(g.hex(16))}
	switch r := g.rng.IntN(100); {
	case r < 2:
		ui["type"], ui["arn"], ui["principalId"] = "Root", "arn:aws:iam::"+account+":root", account
	case r < 40:
		ui["type"], ui["userName"] = "IAMUser", user
		ui["arn"] = "arn:aws:iam::" + account + ":user/" + user
		ui["accessKeyId"] = "AKIA" + strings.ToUpper(g.hex(16))
	default:
		role := g.pick([]string{"app-role", "ci-deploy", "AWSReservedSSO_Admin_0123", "lambda-exec", "terraform"})
		ui["type"] = "AssumedRole"
		ui["arn"] = "arn:aws:sts::" + account + ":assumed-role/" + role + "/session-" + g.hex(6)
		ui["accessKeyId"] = "ASIA" + strings.ToUpper(g.hex(16))
		ui["sessionContext"] = map[string]any{"sessionIssuer": map[string]any{
			"type": "Role", "arn": "arn:aws:iam::" + account + ":role/" + role, "userName": role, "accountId": account,
		}}
		if g.rng.IntN(5) == 0 {
			ui["invokedBy"] = g.pick([]string{"cloudformation.amazonaws.com", "autoscaling.amazonaws.com"})
		}
	}
	d["userIdentity"] = ui
	if svc != "cloudtrail.amazonaws.com" {
		d["requestParameters"] = map[string]any{"resourceId": g.hex(12)}
	} else {
		d["requestParameters"] = map[string]any{"name": fmt.Sprintf("arn:aws:cloudtrail:%s:%s:trail/%s", region, account,
			g.pick([]string{"org-trail", "management-events", "data-events"}))}
	}
	return m
}

func (g *Generator) signIn() map[string]any {
	m := g.template(g.signin)
	account, _ := g.envelopeBasics(m)
	d := m["detail"].(map[string]any)
	d["eventTime"], d["eventID"], d["sourceIPAddress"] = m["time"], g.uuid(), g.publicIP()
	d["recipientAccountId"] = account
	if ui, ok := d["userIdentity"].(map[string]any); ok {
		ui["accountId"] = account
		if ui["type"] == "Root" {
			ui["arn"], ui["principalId"] = "arn:aws:iam::"+account+":root", account
		}
	}
	return m
}

func (g *Generator) securityHubImport() map[string]any {
	m := g.template(g.securityHub)
	account, region := g.envelopeBasics(m)
	n := 1 + g.rng.IntN(3)
	findings := make([]any, 0, n)
	var arns []any
	for range n {
		f := g.template(g.securityHub)["detail"].(map[string]any)["findings"].([]any)[0].(map[string]any)
		c := SecurityHubControls[g.rng.IntN(len(SecurityHubControls))]
		id := fmt.Sprintf("arn:aws:securityhub:%s:%s:security-control/%s/finding/%s", region, account, c.Control, g.uuid())
		f["Id"], f["AwsAccountId"], f["Region"] = id, account, region
		f["GeneratorId"] = "security-control/" + c.Control
		f["UpdatedAt"] = m["time"]
		status := g.pick([]string{"FAILED", "FAILED", "PASSED", "PASSED", "PASSED", "WARNING"})
		f["Compliance"] = map[string]any{"Status": status, "SecurityControlId": c.Control}
		f["Workflow"] = map[string]any{"Status": g.pick([]string{"NEW", "NEW", "NOTIFIED", "RESOLVED"})}
		f["RecordState"] = g.pick([]string{"ACTIVE", "ACTIVE", "ACTIVE", "ARCHIVED"})
		sev := g.pick([]string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"})
		f["Severity"] = map[string]any{"Label": sev, "Normalized": json.Number(fmt.Sprint(map[string]int{
			"INFORMATIONAL": 0, "LOW": 1, "MEDIUM": 40, "HIGH": 70, "CRITICAL": 90}[sev]))}
		f["Resources"] = []any{g.asffResource(c.ResourceType, account, region)}
		delete(f, "ProductFields")
		findings = append(findings, f)
		arns = append(arns, id)
	}
	m["detail"] = map[string]any{"findings": findings}
	m["resources"] = arns
	return m
}

func (g *Generator) asffResource(typ, account, region string) map[string]any {
	r := map[string]any{"Type": typ, "Partition": "aws", "Region": region,
		"Tags": map[string]any{"Environment": g.environment(), "Owner": fmt.Sprintf("team-%02d", g.rng.IntN(40))}}
	switch typ {
	case "AwsEc2SecurityGroup":
		sg := "sg-0" + g.hex(16)
		r["Id"] = "arn:aws:ec2:" + region + ":" + account + ":security-group/" + sg
		r["Details"] = map[string]any{typ: map[string]any{"GroupId": sg, "GroupName": "sg-" + g.hex(4)}}
	case "AwsEc2Instance":
		r["Id"] = "arn:aws:ec2:" + region + ":" + account + ":instance/i-0" + g.hex(16)
	case "AwsS3Bucket":
		r["Id"] = "arn:aws:s3:::bucket-" + g.hex(10)
		delete(r, "Region")
	case "AwsIamUser":
		name := fmt.Sprintf("user-%03d", g.rng.IntN(400))
		r["Id"] = "arn:aws:iam::" + account + ":user/" + name
		r["Details"] = map[string]any{typ: map[string]any{"UserName": name}}
	case "AwsLambdaFunction":
		r["Id"] = "arn:aws:lambda:" + region + ":" + account + ":function:fn-" + g.hex(6)
	case "AwsAccount":
		r["Id"] = "AWS::::Account:" + account
	default:
		r["Id"] = fmt.Sprintf("arn:aws:%s:%s:%s:resource/%s", strings.ToLower(strings.TrimPrefix(typ, "Aws"))[:3], region, account, g.hex(12))
	}
	return r
}

func (g *Generator) healthEvent() map[string]any {
	m := g.template(g.health)
	account, region := g.envelopeBasics(m)
	h := HealthEventTypes[g.rng.IntN(len(HealthEventTypes))]
	if h.Service == "ABUSE" {
		m["detail-type"] = "AWS Health Abuse Event"
	} else {
		m["detail-type"] = "AWS Health Event"
	}
	d := m["detail"].(map[string]any)
	d["service"], d["eventTypeCode"], d["affectedAccount"], d["eventRegion"] = h.Service, h.Code, account, region
	d["eventArn"] = fmt.Sprintf("arn:aws:health:%s::event/%s/%s/%s_%s", region, h.Service, h.Code, h.Code, g.hex(8))
	inst := fmt.Sprintf("arn:aws:ec2:%s:%s:instance/i-0%s", region, account, g.hex(16))
	d["affectedEntities"] = []any{map[string]any{"entityValue": inst, "status": "PENDING"}}
	m["resources"] = []any{inst}
	return m
}

func (g *Generator) alarm() map[string]any {
	account, region := g.pick(Accounts), g.pick(Regions)
	name := g.pick([]string{"high-cpu", "5xx-rate", "root-login", "unauthorized-api-calls", "billing-spike", "disk-full"}) + "-" + g.hex(4)
	state := g.pick([]string{"ALARM", "OK", "OK", "INSUFFICIENT_DATA"})
	return map[string]any{
		"version": "0", "id": g.uuid(), "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
		"account": account, "time": g.timestamp(), "region": region,
		"resources": []any{"arn:aws:cloudwatch:" + region + ":" + account + ":alarm:" + name},
		"detail": map[string]any{
			"alarmName":     name,
			"state":         map[string]any{"value": state, "reason": "Threshold Crossed", "timestamp": g.timestamp()},
			"previousState": map[string]any{"value": "OK", "timestamp": g.timestamp()},
			"configuration": map[string]any{"description": "generated alarm", "metrics": []any{}},
		},
	}
}

func (g *Generator) customEvent() map[string]any {
	account, region := g.pick(Accounts), g.pick(Regions)
	cs := CustomSources[g.rng.IntN(len(CustomSources))]
	return map[string]any{
		"version": "0", "id": g.uuid(), "detail-type": g.pick(cs.DetailTypes), "source": cs.Source,
		"account": account, "time": g.timestamp(), "region": region, "resources": []any{},
		"detail": map[string]any{
			"severity": json.Number(fmt.Sprint(g.rng.IntN(11))),
			"host":     "host-" + g.hex(6),
			"user":     fmt.Sprintf("user-%03d", g.rng.IntN(400)),
			"ip":       g.publicIP(),
			"rule":     map[string]any{"id": g.hex(8), "name": "rule " + g.hex(4)},
		},
	}
}

// rewrite replaces, anywhere in v, the value of every object key f has a replacement for.
func rewrite(v any, f func(key string, old any) (any, bool)) {
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			if nv, ok := f(k, c); ok {
				t[k] = nv
				continue
			}
			rewrite(c, f)
		}
	case []any:
		for _, c := range t {
			rewrite(c, f)
		}
	}
}

// dig follows object keys from m, returning nil when the path does not exist.
func dig(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}
