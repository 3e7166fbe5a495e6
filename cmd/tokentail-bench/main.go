// Command tokentail-bench measures tokentail's performance figures side by
// side in one run (`make bench`): the parser, a backfill against raw loads
// of the same data, live latency, idle CPU, throughput and memory during a
// database outage. It prints a table of figures, targets and ratios and
// writes it to BENCHMARKS.md with the machine it ran on.
//
// Sizes, durations and the parts to run come from the environment
// (BENCH_RECORDS, BENCH_ONLY, ...): run it with -h for the list.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/tokentail/tokentail/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "tokentail-bench:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "tokentail-bench:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the flags or environment (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Run parses args and the environment, runs the benchmarks and reports.
// It fails when a part failed, after reporting the others.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tokentail-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "log the servers' start and stop too")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: tokentail-bench [-v]\n\nMeasures tokentail's performance figures in one run and writes BENCHMARKS.md.")
		fs.PrintDefaults()
		fmt.Fprintln(stderr, "\n"+bench.EnvHelp)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (settings come from BENCH_* variables, see -h)", fs.Arg(0))}
	}
	cfg, err := bench.ConfigFromEnv(os.Getenv)
	if err != nil {
		return usageError{err}
	}
	repo, err := findRepo()
	if err != nil {
		return err
	}
	cfg.Repo = repo
	if cfg.Out != "" && !filepath.IsAbs(cfg.Out) {
		cfg.Out = filepath.Join(repo, cfg.Out)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	rep, runErr := bench.Run(ctx, cfg, log)
	rep.WriteText(stdout)
	// An interrupted run writes no BENCHMARKS.md: half a table would
	// replace the last complete one.
	if cfg.Out != "" && ctx.Err() == nil && len(rep.Sections) > 0 {
		if err := writeMarkdown(cfg.Out, rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwritten to %s\n", cfg.Out)
	}
	if runErr != nil {
		return runErr
	}
	if len(rep.Errors) > 0 {
		return fmt.Errorf("%d part(s) failed: %s", len(rep.Errors), strings.Join(rep.Errors, "; "))
	}
	return nil
}

// writeMarkdown replaces path with rep's table, keeping the hand-written
// sections below bench.KeptMarker of the file it replaces. The new file is
// renamed into place, so a failed write leaves the old one whole.
func writeMarkdown(path string, rep *bench.Report) error {
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the previous %s: %w", path, err)
	}
	var b bytes.Buffer
	rep.WriteMarkdown(&b, invocation())
	if kept := bench.Kept(old); kept != nil {
		b.WriteString("\n")
		b.Write(kept)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// findRepo walks up from the working directory to the module's root.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/tokentail/tokentail\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run tokentail-bench inside the tokentail repository (no go.mod of github.com/tokentail/tokentail above the working directory)")
		}
		dir = parent
	}
}

// invocation is the command that reproduces this run: make bench with the
// BENCH_* variables that were set, but for those that change no figure.
func invocation() string {
	var vars []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "BENCH_DIR", "BENCH_KEEP", "BENCH_OUT":
			continue
		}
		if strings.HasPrefix(name, "BENCH_") {
			vars = append(vars, kv)
		}
	}
	sort.Strings(vars)
	return strings.TrimSpace(strings.Join(vars, " ") + " make bench")
}
