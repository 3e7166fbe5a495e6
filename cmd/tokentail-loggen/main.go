// Command tokentail-loggen writes realistic AI-usage logs for tests,
// benchmarks, chaos runs and the demo, with a manifest of what a correct
// parser must find in them.
//
//	tokentail-loggen batch --records 1000000 --format plain --out app.log --manifest m.json
//	tokentail-loggen live --out /var/log/app --files 20 --rate 2000/s --duration 60s --rotate rename --rotate-every 10MB
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "tokentail-loggen:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tokentail-loggen:", err)
		os.Exit(1)
	}
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// Run runs the command line args: "batch" (the default when args start
// with a flag) or "live".
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "batch"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "batch":
		return runBatch(ctx, args, stdout, stderr)
	case "live":
		return runLive(ctx, args, stderr)
	case "help":
		fmt.Fprintln(stdout, "usage: tokentail-loggen [batch|live] [flags]; -h after a command lists its flags")
		return nil
	}
	return usagef("unknown command %q (want batch or live)", cmd)
}
