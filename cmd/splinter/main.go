// Command splinter runs an emulated bordered Internet: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/splinter-lab/splinter/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
