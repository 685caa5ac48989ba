// Command firebreak automates security incident response on AWS: it decides what to do
// about a detector's event, contains the damage, preserves evidence and records every step.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/firebreak-sec/firebreak/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
