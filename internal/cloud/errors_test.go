package cloud

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError builds an error shaped like the ones the SDK returns: an operation error around
// an HTTP response error around the service's API error.
func sdkError(service, op string, status int, code, msg, requestID string) error {
	var inner error = &smithy.GenericAPIError{Code: code, Message: msg}
	if code == "" {
		inner = errors.New("failed to decode response body")
	}
	return &smithy.OperationError{
		ServiceID:     service,
		OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      inner,
			},
			RequestID: requestID,
		},
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, Permanent},
		{"ec2 throttle", sdkError("EC2", "DescribeInstances", 503, "RequestLimitExceeded", "Request limit exceeded.", "r1"), Throttled},
		{"iam throttle", sdkError("IAM", "UpdateAccessKey", 400, "Throttling", "Rate exceeded", "r"), Throttled},
		{"s3 slow down", sdkError("S3", "PutObject", 503, "SlowDown", "Please reduce your request rate.", "r"), Throttled},
		{"json throttle", sdkError("WAFV2", "UpdateIPSet", 400, "ThrottlingException", "", "r"), Throttled},
		{"too many requests", sdkError("GuardDuty", "ArchiveFindings", 429, "TooManyRequestsException", "", "r"), Throttled},
		{"unknown code 429", sdkError("SNS", "Publish", 429, "Whatever", "", "r"), Throttled},
		{"internal error", sdkError("EC2", "StopInstances", 500, "InternalError", "", "r"), Retry},
		{"service unavailable", sdkError("S3", "PutObject", 503, "ServiceUnavailable", "", "r"), Retry},
		{"bare 502", sdkError("EC2", "StopInstances", 502, "", "", "r"), Retry},
		{"waf lock", sdkError("WAFV2", "UpdateIPSet", 400, "WAFOptimisticLockException", "", "r"), Retry},
		{"ec2 denied", sdkError("EC2", "ModifyInstanceAttribute", 403, "UnauthorizedOperation", "You are not authorized", "r"), Denied},
		{"iam denied", sdkError("IAM", "UpdateAccessKey", 403, "AccessDenied", "", "r"), Denied},
		{"json denied", sdkError("SecurityHub", "BatchUpdateFindings", 403, "AccessDeniedException", "", "r"), Denied},
		{"unknown code 403", sdkError("S3", "PutObject", 403, "Forbidden", "", "r"), Denied},
		{"auth failure", sdkError("EC2", "DescribeInstances", 401, "AuthFailure", "", "r"), Unauthenticated},
		{"bad token", sdkError("STS", "AssumeRole", 403, "InvalidClientTokenId", "", "r"), Unauthenticated},
		{"expired token", sdkError("IAM", "GetUser", 403, "ExpiredToken", "", "r"), Unauthenticated},
		{"ec2 not found", sdkError("EC2", "DescribeInstances", 400, "InvalidInstanceID.NotFound", "", "r"), NotFound},
		{"sg not found", sdkError("EC2", "ModifyInstanceAttribute", 400, "InvalidGroup.NotFound", "", "r"), NotFound},
		{"iam no such entity", sdkError("IAM", "GetUser", 404, "NoSuchEntity", "", "r"), NotFound},
		{"s3 no such bucket", sdkError("S3", "PutPublicAccessBlock", 404, "NoSuchBucket", "", "r"), NotFound},
		{"s3 no pab", sdkError("S3", "GetPublicAccessBlock", 404, "NoSuchPublicAccessBlockConfiguration", "", "r"), NotFound},
		{"trail not found", sdkError("CloudTrail", "StartLogging", 400, "TrailNotFoundException", "", "r"), NotFound},
		{"waf nonexistent", sdkError("WAFV2", "GetIPSet", 400, "WAFNonexistentItemException", "", "r"), NotFound},
		{"json not found", sdkError("SSM", "GetAutomationExecution", 400, "AutomationExecutionNotFoundException", "", "r"), NotFound},
		{"bare 404", sdkError("S3", "HeadBucket", 404, "", "", "r"), NotFound},
		{"validation", sdkError("IAM", "UpdateAccessKey", 400, "ValidationError", "", "r"), Invalid},
		{"bad parameter", sdkError("EC2", "CreateSnapshot", 400, "InvalidParameterValue", "", "r"), Invalid},
		{"malformed id", sdkError("EC2", "DescribeInstances", 400, "InvalidInstanceID.Malformed", "", "r"), Invalid},
		{"wrong state", sdkError("EC2", "StopInstances", 400, "IncorrectInstanceState", "", "r"), Invalid},
		{"unknown code 400", sdkError("EC2", "StopInstances", 400, "SomethingNew", "", "r"), Permanent},
		{"canceled", fmt.Errorf("call: %w", context.Canceled), Canceled},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), Canceled},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, Retry},
		{"plain error", errors.New("boom"), Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassRetryable(t *testing.T) {
	tests := []struct {
		class Class
		want  bool
	}{
		{Permanent, false}, {Retry, true}, {Throttled, true}, {Denied, false},
		{Unauthenticated, false}, {NotFound, false}, {Invalid, false}, {Canceled, false},
	}
	for _, tt := range tests {
		t.Run(tt.class.String(), func(t *testing.T) {
			if got := tt.class.Retryable(); got != tt.want {
				t.Errorf("Retryable() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		operation string
		wantClass Class
		wantOp    string
		wantRole  string
		wantMsg   []string
	}{
		{
			name: "action named by AWS",
			err: sdkError("EC2", "ModifyInstanceAttribute", 403, "UnauthorizedOperation",
				"You are not authorized to perform this operation. User: arn:aws:sts::222233334444:assumed-role/FirebreakResponder/inc-42 is not authorized to perform: ec2:ModifyInstanceAttribute on resource: arn:aws:ec2:us-east-1:222233334444:instance/i-0abc because no identity-based policy allows the ec2:ModifyInstanceAttribute action. Encoded authorization failure message: AAAA", "req-1"),
			wantClass: Denied,
			wantOp:    "ec2:ModifyInstanceAttribute",
			wantRole:  "FirebreakResponder",
			wantMsg: []string{
				"account 222233334444 denied ec2:ModifyInstanceAttribute: grant it to the FirebreakResponder role (see firebreak iam-policy)",
				"request id req-1",
			},
		},
		{
			name:      "action from the operation error",
			err:       sdkError("S3", "PutPublicAccessBlock", 403, "AccessDenied", "Access Denied", "req-2"),
			wantClass: Denied,
			wantOp:    "s3:PutPublicAccessBlock",
			wantMsg:   []string{"account 222233334444 denied s3:PutPublicAccessBlock: grant it to the FirebreakResponder role"},
		},
		{
			name:      "caller names the IAM action",
			err:       sdkError("S3", "PutPublicAccessBlock", 403, "AccessDenied", "Access Denied", "req-2"),
			operation: "s3:PutBucketPublicAccessBlock",
			wantClass: Denied,
			wantOp:    "s3:PutBucketPublicAccessBlock",
			wantMsg:   []string{"denied s3:PutBucketPublicAccessBlock"},
		},
		{
			name:      "multi-word service id",
			err:       sdkError("Network Firewall", "UpdateRuleGroup", 400, "AccessDeniedException", "", "r"),
			wantClass: Denied,
			wantOp:    "network-firewall:UpdateRuleGroup",
		},
		{
			name: "role cannot be assumed",
			err: fmt.Errorf("failed to refresh cached credentials: %w", sdkError("STS", "AssumeRole", 403, "AccessDenied",
				"User: arn:aws:sts::111122223333:assumed-role/HubRole/firebreak is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222233334444:role/CustomResponder", "r")),
			wantClass: Denied,
			wantOp:    "sts:AssumeRole",
			wantRole:  "CustomResponder",
			wantMsg:   []string{"cannot assume the CustomResponder role in account 222233334444"},
		},
		{
			name:      "gone",
			err:       sdkError("EC2", "StopInstances", 400, "InvalidInstanceID.NotFound", "The instance ID 'i-0abc' does not exist", "r"),
			wantClass: NotFound,
			wantOp:    "ec2:StopInstances",
			wantMsg:   []string{"the resource is gone", "The instance ID 'i-0abc' does not exist"},
		},
		{
			name:      "not an AWS answer",
			err:       errors.New("dial tcp: connection reset"),
			operation: "ec2:StopInstances",
			wantClass: Retry,
			wantOp:    "ec2:StopInstances",
			wantMsg:   []string{"retrying may succeed (dial tcp: connection reset)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Describe(tt.err, "222233334444", tt.operation)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Describe() = %T, want *Error", err)
			}
			if e.Class != tt.wantClass || e.Operation != tt.wantOp || e.Role != tt.wantRole {
				t.Errorf("got class %v op %q role %q, want %v %q %q", e.Class, e.Operation, e.Role, tt.wantClass, tt.wantOp, tt.wantRole)
			}
			for _, want := range tt.wantMsg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q lacks %q", err.Error(), want)
				}
			}
			if strings.Contains(err.Error(), "Encoded authorization") {
				t.Errorf("message %q keeps the encoded authorization blob", err.Error())
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("Describe() does not unwrap to the SDK error")
			}
		})
	}
	if Describe(nil, "1", "x") != nil {
		t.Error("Describe(nil) != nil")
	}
}

func TestRequestID(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"response error", sdkError("EC2", "StopInstances", 500, "InternalError", "", "abc-123"), "abc-123"},
		{"no response", errors.New("boom"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RequestID(tt.err); got != tt.want {
				t.Errorf("RequestID() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestResultRequestID(t *testing.T) {
	var md middleware.Metadata
	if got := ResultRequestID(md); got != "" {
		t.Errorf("empty metadata: got %q", got)
	}
	awsmiddleware.SetRequestIDMetadata(&md, "req-9")
	if got := ResultRequestID(md); got != "req-9" {
		t.Errorf("ResultRequestID() = %q, want req-9", got)
	}
}

// The SDK retries its own throttle codes before an error reaches Firebreak; calling any of
// them permanent afterwards would contradict it.
func TestSDKThrottleCodesAreThrottled(t *testing.T) {
	for code := range retry.DefaultThrottleErrorCodes {
		t.Run(code, func(t *testing.T) {
			if c, ok := classifyCode(code); !ok || c != Throttled {
				t.Errorf("classifyCode(%q) = %v, %v; want throttled", code, c, ok)
			}
		})
	}
}
