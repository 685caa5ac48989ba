package awscloud

import (
	"context"

	"github.com/aws/smithy-go/middleware"
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
