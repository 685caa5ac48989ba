package awscloud

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak-sec/firebreak/internal/cloud"
)

// limitInFlight holds each call, retries included, to one slot of sem. Holding the slot
// across the SDK's retry backoff is deliberate: while an account is throttled, its queued
// calls wait here instead of adding to the throttling, and other accounts, whose
// semaphores are their own, are not held back.
func limitInFlight(sem chan struct{}) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("FirebreakInFlightLimit",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
				}
				defer func() { <-sem }()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// countCalls counts each call once, after its retries, under its final result. It sits in
// the finalize step ahead of the retryer so that retries are inside it, and reads the
// service and operation names the initialize step put in the context.
func countCalls(calls *prometheus.CounterVec, account string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("FirebreakCountCalls",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				code := "OK"
				if err != nil {
					if code = cloud.Code(err); code == "" {
						code = "error"
					}
				}
				calls.WithLabelValues(account, awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), code).Inc()
				return out, md, err
			}), middleware.Before)
	}
}
