package main

import (
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/tokentail/tokentail/internal/loggen"
)

func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var gf genFlags
	gf.register(fs)
	records := fs.Int("records", 1000, "number of record lines (valid and malformed; noise comes on top)")
	out := fs.String("out", "-", `file to write ("-": stdout); a directory for --format mixed`)
	gz := fs.Bool("gzip", false, "gzip the output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tokentail-loggen batch [flags]\n\nWrites N records, byte-identical for the same seed and flags.")
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
	if *records < 0 {
		return usagef("--records %d: want 0 or more", *records)
	}

	started := time.Now()
	var m loggen.Manifest
	if gf.format == "mixed" {
		if *out == "-" {
			return usagef("--format mixed writes one file per format: --out must be a directory")
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", *out, err)
		}
		for i, format := range []string{"plain", "docker", "cri", "json"} {
			if err := ctx.Err(); err != nil {
				return err
			}
			o, err := gf.options(format)
			if err != nil {
				return err
			}
			o.Seed += uint64(i) // distinct ids and lines per file
			path := filepath.Join(*out, format+".log")
			if *gz {
				path += ".gz"
			}
			fm, err := writeFile(path, o, *records, *gz, stdout)
			if err != nil {
				return err
			}
			fm.Files = []loggen.FileStat{fileStat(path, fm)}
			if i == 0 {
				m = fm
			} else {
				m.Merge(fm)
			}
		}
	} else {
		o, err := gf.options(gf.format)
		if err != nil {
			return err
		}
		if m, err = writeFile(*out, o, *records, *gz, stdout); err != nil {
			return err
		}
	}
	if gf.manifest != "" {
		if err := m.WriteFile(gf.manifest); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "wrote %d lines (%d records, %d malformed, %d noise), %d bytes, cost %s USD in %.1fs\n",
		m.Lines, m.Records, m.Malformed, m.NoiseLines, m.Bytes, m.CostUSD, time.Since(started).Seconds())
	return nil
}

// writeFile writes n records to path ("-" for stdout), gzipped or not.
func writeFile(path string, o loggen.Options, n int, gz bool, stdout io.Writer) (loggen.Manifest, error) {
	var w io.Writer = stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return loggen.Manifest{}, fmt.Errorf("create %s: %w", path, err)
		}
		defer f.Close()
		w = f
	}
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(w)
		w = zw
	}
	m, err := loggen.New(o).WriteN(w, n)
	if err != nil {
		return m, fmt.Errorf("write %s: %w", path, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return m, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return m, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return m, nil
}

func fileStat(path string, m loggen.Manifest) loggen.FileStat {
	return loggen.FileStat{
		Path: path, Envelope: m.Envelope, Layout: m.Layout,
		PhysicalLines: m.PhysicalLines, Bytes: m.Bytes, Lines: m.Lines, Records: m.Records, Malformed: m.Malformed,
	}
}
