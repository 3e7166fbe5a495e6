package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/parse"
)

// genFlags are the generator flags that batch and live share.
type genFlags struct {
	format, marker, reasons, start, maxLine, split string
	jsonLines, bench                               bool
	seed                                           uint64
	noise, malformed, noCost, noID, noTime, errors float64
	users                                          int
	step                                           time.Duration
	manifest                                       string
}

func (f *genFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.format, "format", "plain", "plain, docker, cri, json (whole-line JSON objects) or, in batch mode, mixed (one file per format)")
	fs.BoolVar(&f.jsonLines, "json-lines", false, "write whole-line JSON objects inside the docker or cri envelope")
	fs.StringVar(&f.marker, "marker", loggen.DefaultMarker, "text before the record's JSON")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed and flags give the same output (batch mode)")
	fs.Float64Var(&f.noise, "noise", 0.5, "fraction of lines that are not records")
	fs.Float64Var(&f.malformed, "malformed", 0, "fraction of record lines that are malformed")
	fs.StringVar(&f.reasons, "reasons", "", "comma-separated reject reasons malformed lines are limited to (default: all the format allows)")
	fs.Float64Var(&f.noCost, "no-cost", 0.2, "fraction of records without a cost")
	fs.Float64Var(&f.noID, "no-id", 0.1, "fraction of records without a request id")
	fs.Float64Var(&f.noTime, "no-time", 0, "fraction of records without a time of their own")
	fs.Float64Var(&f.errors, "error-rate", loggen.DefaultErrorRate, "fraction of records of failed calls")
	fs.IntVar(&f.users, "users", loggen.DefaultUsers, "number of distinct users")
	fs.StringVar(&f.maxLine, "max-line", "1MiB", "the parser's max_line_bytes: noise stays below, line_too_long lines go above")
	fs.StringVar(&f.split, "split", "16KiB", "split docker and cri lines into partial chunks at this size (0: never)")
	fs.StringVar(&f.start, "start", loggen.DefaultStart.Format(time.RFC3339), "time of the first line (batch mode)")
	fs.DurationVar(&f.step, "step", loggen.DefaultStep, "time between lines (batch mode)")
	fs.BoolVar(&f.bench, "bench", false, "write only the fixed ~300-byte benchmark line")
	fs.StringVar(&f.manifest, "manifest", "", "write the manifest (JSON) to this file")
}

// options turns the flags into generator options for one envelope.
func (f *genFlags) options(format string) (loggen.Options, error) {
	o := loggen.Options{
		Seed: f.seed, Marker: f.marker, Noise: f.noise, Malformed: f.malformed,
		NoCost: f.noCost, NoID: f.noID, NoTime: f.noTime, Users: f.users, Step: f.step, Bench: f.bench,
	}
	o.ErrorRate = f.errors
	if f.errors == 0 {
		o.ErrorRate = -1 // the flag's 0 means none, not the default
	}
	switch format {
	case "json":
		o.Layout = loggen.JSONLayout
	default:
		env, err := loggen.ParseEnvelope(format)
		if err != nil {
			return o, usagef("--format %q: want plain, docker, cri, json or (batch) mixed", format)
		}
		o.Envelope = env
		if f.jsonLines {
			o.Layout = loggen.JSONLayout
		}
	}
	max, err := parseSize(f.maxLine)
	if err != nil {
		return o, usagef("--max-line: %v", err)
	}
	o.MaxLineBytes = int(max)
	split, err := parseSize(f.split)
	if err != nil {
		return o, usagef("--split: %v", err)
	}
	o.SplitBytes = int(split)
	if split == 0 {
		o.SplitBytes = -1
	}
	if o.Start, err = time.Parse(time.RFC3339, f.start); err != nil {
		return o, usagef("--start: want an RFC 3339 time such as 2026-11-01T00:00:00Z")
	}
	if f.reasons != "" {
		for _, r := range strings.Split(f.reasons, ",") {
			o.MalformedReasons = append(o.MalformedReasons, parse.Reason(strings.TrimSpace(r)))
		}
	}
	if err := o.Validate(); err != nil {
		return o, usageError{err}
	}
	return o, nil
}

// parseSize reads a byte size: "300", "64KB", "10MB", "1GiB" (K, M and G
// are powers of 1024, as in logrotate).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (want e.g. 300, 64KB, 10MB)", s)
	}
	return n * mult, nil
}

// parseRate reads "2000/s", "120/m", "10/h" or a bare number per second.
func parseRate(s string) (float64, error) {
	num, unit, found := strings.Cut(strings.TrimSpace(s), "/")
	per := 1.0
	if found {
		switch unit {
		case "s":
		case "m", "min":
			per = 60
		case "h":
			per = 3600
		default:
			return 0, fmt.Errorf("%q: unknown unit %q (want /s, /m or /h)", s, unit)
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a rate (want e.g. 2000/s)", s)
	}
	return n / per, nil
}
