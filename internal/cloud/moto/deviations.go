package moto

import "testing"

// Kind says how moto departs from AWS in an operation.
type Kind int

const (
	// Unsupported operations fail in moto whatever the input.
	Unsupported Kind = iota + 1
	// Differs operations succeed in moto but leave a different state than AWS would.
	Differs
)

// String names the kind in skip messages.
func (k Kind) String() string {
	switch k {
	case Unsupported:
		return "unsupported"
	case Differs:
		return "differs"
	}
	return "unknown"
}

// Deviation is one way moto differs from AWS in an operation Firebreak calls, as observed
// against moto 5.2.1 and rechecked by TestMotoDeviations, which fails when moto changes so
// that the table can be corrected.
type Deviation struct {
	// Operation is the IAM action, service:Operation.
	Operation string
	// Kind is how moto departs from AWS.
	Kind Kind
	// Behaviour is what moto does instead.
	Behaviour string
	// Workaround is how a test can still check the step, when there is a way.
	Workaround string
}

// Deviations lists, by operation, what the end-to-end suite cannot trust moto with. A
// step whose operations appear here is skipped by name (see Skip), never silently.
var Deviations = []Deviation{
	{Operation: "guardduty:CreateSampleFindings", Kind: Unsupported,
		Behaviour: "HTTP 404: moto has no route for GuardDuty findings"},
	{Operation: "guardduty:ListFindings", Kind: Unsupported,
		Behaviour: "HTTP 404: moto has no route for GuardDuty findings"},
	{Operation: "guardduty:GetFindings", Kind: Unsupported,
		Behaviour: "HTTP 404: moto has no route for GuardDuty findings"},
	{Operation: "guardduty:ArchiveFindings", Kind: Unsupported,
		Behaviour: "HTTP 404: moto has no route for GuardDuty findings"},
	{Operation: "guardduty:UnarchiveFindings", Kind: Unsupported,
		Behaviour: "HTTP 404: moto has no route for GuardDuty findings"},
	{Operation: "securityhub:BatchUpdateFindings", Kind: Unsupported,
		Behaviour:  "HTTP 404: moto has no route for it",
		Workaround: "securityhub:BatchImportFindings and GetFindings work, so findings can be seeded and read"},
	{Operation: "s3:GetObjectRetention", Kind: Differs,
		Behaviour:  "moto answers GET ?retention as GetObject, with the object's body; the Go SDK reports success with a nil Retention, so a locked object looks unlocked",
		Workaround: "PutObjectRetention works; HeadObject reports ObjectLockMode and ObjectLockRetainUntilDate"},
	{Operation: "ssm:StartAutomationExecution", Kind: Unsupported,
		Behaviour: "HTTP 500: NotImplementedError"},
	{Operation: "ssm:GetAutomationExecution", Kind: Unsupported,
		Behaviour: "HTTP 500: NotImplementedError"},
	{Operation: "ssm:StopAutomationExecution", Kind: Unsupported,
		Behaviour: "HTTP 500: NotImplementedError"},
	{Operation: "ssm:DescribeInstanceInformation", Kind: Unsupported,
		Behaviour: "HTTP 500: NotImplementedError"},
	{Operation: "ssm:ListCommandInvocations", Kind: Unsupported,
		Behaviour:  "HTTP 500: NotImplementedError",
		Workaround: "ssm:SendCommand and GetCommandInvocation work"},
	{Operation: "network-firewall:DescribeRuleGroup", Kind: Unsupported,
		Behaviour: "HTTP 500: NotImplementedError (CreateRuleGroup too, so no rule group can exist)"},
	{Operation: "network-firewall:UpdateRuleGroup", Kind: Unsupported,
		Behaviour: "HTTP 500: NotImplementedError"},
	{Operation: "ec2:ModifyNetworkInterfaceAttribute", Kind: Differs,
		Behaviour:  "an interface's groups are reported as the union of its own groups and its instance's, so after replacing the interface's groups the old ones still show",
		Workaround: "also set the same groups with ec2:ModifyInstanceAttribute; only both together give a clean replacement on a primary interface"},
	{Operation: "iam:CreateLoginProfile", Kind: Differs,
		Behaviour:  "PasswordResetRequired is ignored: iam:GetLoginProfile reports false after a create that asked for true",
		Workaround: "follow the create with iam:UpdateLoginProfile setting PasswordResetRequired"},
	{Operation: "cloudtrail:StartLogging", Kind: Differs,
		Behaviour:  "HTTP 500 (KeyError) when Name is the trail's ARN; a trail name works",
		Workaround: "pass the trail name; cloudtrail:GetTrailStatus accepts either"},
	{Operation: "cloudtrail:StopLogging", Kind: Differs,
		Behaviour:  "HTTP 500 (KeyError) when Name is the trail's ARN; a trail name works",
		Workaround: "pass the trail name"},
}

// Lookup returns the deviation recorded for operation (service:Operation).
func Lookup(operation string) (Deviation, bool) {
	for _, d := range Deviations {
		if d.Operation == operation {
			return d, true
		}
	}
	return Deviation{}, false
}

// Skip skips the test, naming the deviation, when moto cannot be trusted with any of
// operations. Pass the operations a step calls; a step with none in Deviations runs.
func Skip(t testing.TB, operations ...string) {
	t.Helper()
	for _, op := range operations {
		if d, ok := Lookup(op); ok {
			t.Skipf("moto: %s %s: %s", op, d.Kind, d.Behaviour)
			return
		}
	}
}
