package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Class says what a caller can do about a failed AWS call. Actions report it upward the way
// an Alertmanager notifier reports its retry flag: the caller owns backoff, the action only
// says whether trying again can help.
type Class int

// The classes, from "try again" to "stop". The zero value is Permanent so that an error
// nobody recognises is never retried in a loop.
const (
	// Permanent failures will fail the same way if repeated.
	Permanent Class = iota
	// Retry failures are transient on AWS's side (5xx, timeouts, dropped connections).
	Retry
	// Throttled failures are retryable, but only after backing off further.
	Throttled
	// Denied means the responder role lacks a permission, or a policy denies it.
	Denied
	// Unauthenticated means AWS rejected the credentials themselves.
	Unauthenticated
	// NotFound means the resource is gone: reported as such, never retried.
	NotFound
	// Invalid means AWS rejected the request's parameters or the resource's state.
	Invalid
	// Canceled means the caller's context ended before AWS answered.
	Canceled
)

var classNames = [...]string{
	Permanent:       "permanent",
	Retry:           "retry",
	Throttled:       "throttled",
	Denied:          "denied",
	Unauthenticated: "unauthenticated",
	NotFound:        "not-found",
	Invalid:         "invalid",
	Canceled:        "canceled",
}

// String returns the class's name as it appears in audit records.
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// Retryable reports whether repeating the call later can succeed.
func (c Class) Retryable() bool { return c == Retry || c == Throttled }

// match says how a rule's pattern is compared with an error code.
type match int

const (
	exact match = iota
	prefix
	suffix
)

// rule maps AWS error codes to a class.
type rule struct {
	pattern string
	how     match
	class   Class
}

// rules is the classification of AWS error codes. Codes are case-sensitive, as AWS returns
// them. The first matching rule wins, so exact codes come before the prefix and suffix
// families that would otherwise claim them.
var rules = []rule{
	// Throttling. The SDK's own list (aws/retry DefaultThrottleErrorCodes) plus the codes named
	// in the service guides: EC2 "RequestLimitExceeded" (EC2 API reference, "Request throttling
	// for the Amazon EC2 API"), IAM/STS "Throttling", S3 "SlowDown" (S3 API reference, "Error
	// responses"), JSON-protocol services "ThrottlingException"/"TooManyRequestsException"
	// (WAFv2, GuardDuty, Security Hub, SSM, Network Firewall: "Common Errors" in each API
	// reference). The rest come from the SDK's list, so that Firebreak never calls an error
	// permanent that the SDK itself treats as throttling.
	{"Throttling", exact, Throttled},
	{"ThrottlingException", exact, Throttled},
	{"ThrottledException", exact, Throttled},
	{"RequestThrottledException", exact, Throttled},
	{"RequestThrottled", exact, Throttled},
	{"RequestLimitExceeded", exact, Throttled},
	{"TooManyRequestsException", exact, Throttled},
	{"ProvisionedThroughputExceededException", exact, Throttled},
	{"BandwidthLimitExceeded", exact, Throttled},
	{"SlowDown", exact, Throttled},
	{"EC2ThrottledException", exact, Throttled},
	{"PriorRequestNotComplete", exact, Throttled},
	{"TransactionInProgressException", exact, Throttled},
	// Some services mean a quota by it, which waiting does not lift; the SDK treats it as
	// throttling all the same, and the caller's bounded backoff ends either way.
	{"LimitExceededException", exact, Throttled},
	// WAFv2 WAFUnavailableEntityException and WAFOptimisticLockException ("try your request
	// again", WAFv2 API reference, UpdateIPSet errors) are races with other writers, not faults.
	{"WAFUnavailableEntityException", exact, Retry},
	{"WAFOptimisticLockException", exact, Retry},
	// Server faults: "Common Errors" in the EC2, IAM, STS and JSON-protocol API references list
	// InternalError/InternalFailure/ServiceUnavailable as 5xx codes the client should retry;
	// S3 lists InternalError and ServiceUnavailable likewise.
	{"InternalError", exact, Retry},
	{"InternalFailure", exact, Retry},
	{"InternalServerError", exact, Retry},
	{"InternalServerErrorException", exact, Retry},
	{"InternalException", exact, Retry},
	{"ServiceUnavailable", exact, Retry},
	{"ServiceUnavailableException", exact, Retry},
	{"Unavailable", exact, Retry},
	{"RequestTimeout", exact, Retry},
	{"RequestTimeoutException", exact, Retry},
	{"IDPCommunicationError", exact, Retry}, // STS: the identity provider did not answer in time.
	// Authorization: the credentials are valid but lack a permission. EC2 says
	// UnauthorizedOperation, IAM/STS/S3 AccessDenied, JSON services AccessDeniedException,
	// GuardDuty and some others UnauthorizedAccess ("Common Errors").
	{"AccessDenied", exact, Denied},
	{"AccessDeniedException", exact, Denied},
	{"UnauthorizedOperation", exact, Denied},
	{"UnauthorizedAccess", exact, Denied},
	{"UnauthorizedException", exact, Denied},
	{"AllAccessDisabled", exact, Denied},
	{"AuthorizationError", exact, Denied}, // SNS: "Indicates that the user has been denied access to the requested resource."
	{"OptInRequired", exact, Denied},      // the account is not subscribed to the service.
	// Authentication: AWS does not accept the credentials. EC2 AuthFailure, STS/IAM
	// InvalidClientTokenId and ExpiredToken ("Common Errors"). The SDK's credential cache
	// refreshes assumed-role credentials before they expire, so an expired token means the
	// hub's own credentials are stale, which repeating the call cannot fix.
	{"AuthFailure", exact, Unauthenticated},
	{"InvalidClientTokenId", exact, Unauthenticated},
	{"UnrecognizedClientException", exact, Unauthenticated},
	{"ExpiredToken", exact, Unauthenticated},
	{"ExpiredTokenException", exact, Unauthenticated},
	{"RequestExpired", exact, Unauthenticated},
	{"SignatureDoesNotMatch", exact, Unauthenticated},
	{"IncompleteSignature", exact, Unauthenticated},
	{"MissingAuthenticationToken", exact, Unauthenticated},
	{"InvalidAccessKeyId", exact, Unauthenticated},
	{"InvalidToken", exact, Unauthenticated},
	// Not found. EC2 names each one "<Kind>.NotFound" (InvalidInstanceID.NotFound,
	// InvalidGroup.NotFound, InvalidVolume.NotFound: EC2 API reference, "Error codes"); IAM
	// NoSuchEntity; S3 NoSuchBucket/NoSuchKey/NoSuchPublicAccessBlockConfiguration; CloudTrail
	// TrailNotFoundException; WAFv2 WAFNonexistentItemException; the JSON services
	// ResourceNotFoundException or NotFoundException.
	{"NoSuchEntity", exact, NotFound},
	{"TrailNotFoundException", exact, NotFound},
	{"WAFNonexistentItemException", exact, NotFound},
	{"ResourceNotFoundException", exact, NotFound},
	{"NotFoundException", exact, NotFound},
	{"NotFound", exact, NotFound},
	{"NoSuch", prefix, NotFound},
	{".NotFound", suffix, NotFound},
	{"NotFoundException", suffix, NotFound},
	// Validation and state conflicts: the request will fail the same way until someone changes
	// it or the resource ("Common Errors": ValidationError, InvalidParameterValue, ...).
	{"ValidationError", exact, Invalid},
	{"ValidationException", exact, Invalid},
	{"InvalidParameter", exact, Invalid},
	{"InvalidParameterValue", exact, Invalid},
	{"InvalidParameterCombination", exact, Invalid},
	{"InvalidParameterException", exact, Invalid},
	{"InvalidInputException", exact, Invalid},
	{"InvalidRequestException", exact, Invalid},
	{"MissingParameter", exact, Invalid},
	{"MalformedPolicyDocument", exact, Invalid},
	{"IncorrectState", exact, Invalid},
	{"IncorrectInstanceState", exact, Invalid},
	{"OperationNotPermitted", exact, Invalid},
	{"DependencyViolation", exact, Invalid},
	{"WAFInvalidParameterException", exact, Invalid},
	{"WAFInvalidOperationException", exact, Invalid},
	{"WAFLimitsExceededException", exact, Invalid},
	{"LimitExceeded", exact, Invalid}, // IAM quota: waiting does not free it.
	{"EntityAlreadyExists", exact, Invalid},
	{"InvalidAction", exact, Invalid},
	{"InvalidTrailNameException", exact, Invalid},
	{".Malformed", suffix, Invalid},
}

// statusClasses classifies a response by HTTP status when its code is unknown: the AWS
// general reference ("Error retries and exponential backoff in AWS") says to retry 5xx and
// 429, and the REST services use 403 and 404 for denied and missing.
var statusClasses = map[int]Class{
	http.StatusTooManyRequests:     Throttled,
	http.StatusForbidden:           Denied,
	http.StatusNotFound:            NotFound,
	http.StatusInternalServerError: Retry,
	http.StatusBadGateway:          Retry,
	http.StatusServiceUnavailable:  Retry,
	http.StatusGatewayTimeout:      Retry,
}

// classifyCode returns the class for an AWS error code, and whether the table knows it.
func classifyCode(code string) (Class, bool) {
	for _, r := range rules {
		var ok bool
		switch r.how {
		case exact:
			ok = code == r.pattern
		case prefix:
			ok = strings.HasPrefix(code, r.pattern)
		case suffix:
			ok = strings.HasSuffix(code, r.pattern)
		}
		if ok {
			return r.class, true
		}
	}
	return Permanent, false
}

// Classify says whether a failed AWS call is worth repeating, and if not, why. It looks at
// the error code first, then the HTTP status, then at network-level failures, which the SDK
// has already retried by the time they reach the caller but which may pass later.
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Canceled
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if c, ok := classifyCode(apiErr.ErrorCode()); ok {
			return c
		}
	}
	if status := HTTPStatus(err); status != 0 {
		if c, ok := statusClasses[status]; ok {
			return c
		}
		if status >= 500 {
			return Retry
		}
		return Permanent
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return Retry
	}
	return Permanent
}

// HTTPStatus returns the HTTP status code of the AWS response behind err, or 0.
func HTTPStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// Code returns the AWS error code behind err (e.g. "UnauthorizedOperation"), or "".
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// RequestID returns the AWS request id of a failed call, for the audit record, or "".
func RequestID(err error) string {
	var re interface{ ServiceRequestID() string }
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// ResultRequestID returns the AWS request id of a successful call from its output's
// ResultMetadata, for the audit record, or "".
func ResultRequestID(md middleware.Metadata) string {
	id, _ := awsmiddleware.GetRequestIDMetadata(md)
	return id
}

// Error is a failed AWS call described for the person who must fix it. Its message says
// what happened in which account and what to do; Unwrap gives the SDK's error.
type Error struct {
	// Class is what the caller can do about it.
	Class Class
	// Account is the member account the call acted in.
	Account string
	// Operation is the IAM action the call needed, as service:Operation.
	Operation string
	// Code is AWS's error code, when AWS answered.
	Code string
	// RequestID is AWS's request id, when AWS answered.
	RequestID string
	// Role is the role the call ran as, when AWS named it; the message assumes the default
	// responder role otherwise.
	Role string
	// Err is the SDK's error.
	Err error
}

// Error returns the user-facing message.
func (e *Error) Error() string {
	role := "the " + defaultRoleName + " role"
	if e.Role != "" {
		role = "the " + e.Role + " role"
	}
	detail := e.detail()
	switch e.Class {
	case Denied:
		if e.Operation == "sts:AssumeRole" {
			return fmt.Sprintf("cannot assume %s in account %s: the role must exist there and trust Firebreak's own principal (see firebreak iam-policy)%s", role, e.Account, detail)
		}
		return fmt.Sprintf("account %s denied %s: grant it to %s (see firebreak iam-policy)%s", e.Account, e.opName(), role, detail)
	case Unauthenticated:
		return fmt.Sprintf("account %s rejected Firebreak's credentials for %s: refresh the credentials Firebreak runs with%s", e.Account, e.opName(), detail)
	case NotFound:
		return fmt.Sprintf("account %s: %s found nothing to act on; the resource is gone%s", e.Account, e.opName(), detail)
	case Throttled:
		return fmt.Sprintf("account %s throttled %s; retrying after a pause may succeed%s", e.Account, e.opName(), detail)
	case Retry:
		return fmt.Sprintf("account %s: %s failed transiently; retrying may succeed%s", e.Account, e.opName(), detail)
	case Invalid:
		return fmt.Sprintf("account %s refused %s as invalid%s", e.Account, e.opName(), detail)
	case Canceled:
		return fmt.Sprintf("account %s: %s was canceled before AWS answered%s", e.Account, e.opName(), detail)
	}
	return fmt.Sprintf("account %s: %s failed%s", e.Account, e.opName(), detail)
}

func (e *Error) opName() string {
	if e.Operation == "" {
		return "the call"
	}
	return e.Operation
}

// detail is AWS's own account of the failure, for the operator who needs the raw code. The
// encoded authorization message EC2 appends is dropped: it is unreadable without
// sts:DecodeAuthorizationMessage and runs to kilobytes.
func (e *Error) detail() string {
	var apiErr smithy.APIError
	if !errors.As(e.Err, &apiErr) {
		if e.Err == nil {
			return ""
		}
		return " (" + e.Err.Error() + ")"
	}
	msg, _, _ := strings.Cut(apiErr.ErrorMessage(), "Encoded authorization failure message")
	msg = strings.TrimRight(strings.TrimSpace(msg), ".")
	var b strings.Builder
	b.WriteString(" (AWS ")
	b.WriteString(apiErr.ErrorCode())
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if e.RequestID != "" {
		b.WriteString("; request id ")
		b.WriteString(e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

// Unwrap returns the SDK's error.
func (e *Error) Unwrap() error { return e.Err }

// defaultRoleName is the role Firebreak assumes in member accounts unless told otherwise.
const defaultRoleName = "FirebreakResponder"

// deniedAction matches the IAM action in AWS's denial messages, e.g. "User: arn:... is not
// authorized to perform: ec2:ModifyInstanceAttribute on resource: ...".
var deniedAction = regexp.MustCompile(`not authorized to perform:?\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+)`)

// assumedRole matches the role a caller acted as in AWS's denial messages, or, for a denied
// sts:AssumeRole, the role it tried to assume.
var assumedRole = regexp.MustCompile(`assumed-role/([\w+=,.@-]+)/|on resource:\s*arn:[\w-]+:iam::\d+:role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)`)

// iamPrefixes maps SDK service ids to the service prefix IAM policies use.
var iamPrefixes = map[string]string{
	"EC2":                       "ec2",
	"IAM":                       "iam",
	"STS":                       "sts",
	"CloudTrail":                "cloudtrail",
	"WAFV2":                     "wafv2",
	"S3":                        "s3",
	"SSM":                       "ssm",
	"SecurityHub":               "securityhub",
	"GuardDuty":                 "guardduty",
	"Network Firewall":          "network-firewall",
	"Auto Scaling":              "autoscaling",
	"Elastic Load Balancing v2": "elasticloadbalancing",
	"SNS":                       "sns",
}

// Describe wraps err from a call made in account as an *Error naming what failed and what to
// do. operation is the IAM action the call needed ("ec2:ModifyInstanceAttribute"); when AWS
// names the denied action in its message, that wins, and when operation is empty it is taken
// from the SDK's operation error. Describe returns nil for a nil err.
func Describe(err error, account, operation string) error {
	if err == nil {
		return nil
	}
	e := &Error{
		Class:     Classify(err),
		Account:   account,
		Operation: operation,
		Code:      Code(err),
		RequestID: RequestID(err),
		Err:       err,
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		msg := apiErr.ErrorMessage()
		if m := deniedAction.FindStringSubmatch(msg); m != nil && e.Class == Denied {
			e.Operation = m[1]
		}
		if e.Operation == "sts:AssumeRole" {
			if m := assumedRole.FindAllStringSubmatch(msg, -1); m != nil {
				e.Role = m[len(m)-1][2]
			}
		} else if m := assumedRole.FindStringSubmatch(msg); m != nil {
			e.Role = m[1]
		}
	}
	if e.Operation == "" {
		var opErr *smithy.OperationError
		if errors.As(err, &opErr) {
			svc, ok := iamPrefixes[opErr.ServiceID]
			if !ok {
				svc = strings.ToLower(strings.ReplaceAll(opErr.ServiceID, " ", "-"))
			}
			e.Operation = svc + ":" + opErr.OperationName
		}
	}
	return e
}
