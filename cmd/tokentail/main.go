// Command tokentail turns AI usage log lines into cost, latency and error
// numbers in PostgreSQL and InfluxDB, and alerts on them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/tokentail/tokentail/internal/config"
)

// Set by the build (make build): -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	stop()
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintln(os.Stderr, "tokentail: "+err.Error())
	}
	os.Exit(exitCode(err))
}

// Main is the program, with its streams, so tests can run commands in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// NewMain returns a Main on the process's streams.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// usageError is a mistake in how the command was called: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// errSilent ends a command with exit 1 after it has said why itself.
var errSilent = errors.New("failed")

// exitCode maps an error to the contract's exit codes: 0 success, 1 runtime
// failure, 2 usage or config error.
func exitCode(err error) int {
	var ue *usageError
	var ce *config.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), errors.As(err, &ce):
		return 2
	}
	return 1
}

const usage = `tokentail turns AI usage log lines into numbers people trust.

Usage:
  tokentail <command> [--config FILE] [arguments]

Commands:
  run                          tail the configured sources, write to the databases, evaluate rules
  backfill PATH_OR_GLOB...     read old files (plain or .gz) once, then exit; idempotent
  parse [PATH...]              print each normalized record as JSON (stdin when no path)
  rules check RULES.yaml       validate a rules file
  rules test --rules F PATH... replay history through the rules and print alert transitions
  config check                 validate the config and reach each configured server
  report                       cost, requests, tokens, errors and latency from PostgreSQL
  reprice --since DATE         recompute costs priced from the table after the pricing changed
  version                      print the version

The config is --config FILE, else ./tokentail.yaml, else /etc/tokentail/tokentail.yaml.
`

// Run runs the command named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return usagef("no command given")
	}
	switch args[0] {
	case "version", "--version", "-v":
		return m.runVersion(args[1:])
	case "parse":
		return m.runParse(ctx, args[1:])
	case "config":
		return m.runConfig(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, usage)
		return nil
	}
	if cmd, ok := m.commands()[args[0]]; ok {
		return cmd(ctx, args[1:])
	}
	fmt.Fprint(m.Stderr, usage)
	return usagef("unknown command %q", args[0])
}
