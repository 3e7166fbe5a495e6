package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tokentail/tokentail/internal/loggen"
)

func runLive(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var gf genFlags
	gf.register(fs)
	var o loggen.LiveOptions
	fs.StringVar(&o.Dir, "out", "", "directory the files are written in (required)")
	fs.StringVar(&o.Name, "name", "app", "base name of the files: app.log, or app-00.log... with --files > 1")
	fs.IntVar(&o.Files, "files", 1, "number of files lines are spread over")
	rate := fs.String("rate", "1000/s", "lines per second over all files, e.g. 2000/s (0: as fast as possible)")
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (0: no limit)")
	fs.IntVar(&o.Records, "records", 0, "stop after this many record lines (0: no limit)")
	rotate := fs.String("rotate", "none", "rotation: none, rename or copytruncate")
	every := fs.String("rotate-every", "", "rotate at a size (10MB) or an age (30s)")
	fs.IntVar(&o.Keep, "keep", 5, "rotated files to keep (0: all)")
	fs.BoolVar(&o.Compress, "compress", false, "gzip rotated files")
	fs.Float64Var(&o.SplitWrites, "split-writes", 0, "fraction of lines written in two write() calls")
	fs.DurationVar(&o.SplitPause, "split-pause", 2*time.Millisecond, "pause between the two writes of a split line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tokentail-loggen live --out DIR [flags]\n\nAppends lines at a rate, rotating files, until --duration, --records or SIGINT/SIGTERM;\nthen writes the manifest of all files.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if gf.format == "mixed" {
		return usagef("--format mixed is for batch mode")
	}
	var err error
	if o.Options, err = gf.options(gf.format); err != nil {
		return err
	}
	if o.Rate, err = parseRate(*rate); err != nil {
		return usagef("--rate: %v", err)
	}
	if o.Rotate, err = loggen.ParseRotation(*rotate); err != nil {
		return usagef("--rotate: %v", err)
	}
	if *every != "" {
		if d, derr := time.ParseDuration(*every); derr == nil {
			o.RotateEvery = d
		} else if n, serr := parseSize(*every); serr == nil && !strings.ContainsAny(*every, "hms") {
			o.RotateBytes = n
		} else {
			return usagef("--rotate-every %q: want a size (10MB) or a duration (30s)", *every)
		}
	}
	if err := o.Validate(); err != nil {
		return usageError{err}
	}

	started := time.Now()
	m, err := loggen.Live(ctx, o)
	if gf.manifest != "" {
		// Written even after a failure: it says what reached the files.
		if werr := m.WriteFile(gf.manifest); werr != nil && err == nil {
			err = werr
		}
	}
	fmt.Fprintf(stderr, "wrote %d lines (%d records, %d malformed, %d noise) to %d files, %d rotations, cost %s USD in %.1fs\n",
		m.Lines, m.Records, m.Malformed, m.NoiseLines, len(m.Files), m.Rotations, m.CostUSD, time.Since(started).Seconds())
	return err
}
