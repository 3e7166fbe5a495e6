package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/tailer"
)

func (m *Main) runParse(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokentail parse", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	sourceName := fs.String("source", "", "read with this source's settings (default: the source whose paths match, else the first)")
	format := fs.String("format", "", "override the envelope: auto, plain, docker or cri")
	marker := fs.String("marker", "", `override the marker ("none" for whole-line JSON)`)
	pricingFile := fs.String("pricing", "", "pricing file (default: the config's)")
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: tokentail parse [--config FILE] [--source NAME] [PATH...]\n\nPrints each normalized record as one JSON line on stdout and each rejected line as\nFILE:OFFSET: REASON: DETAIL on stderr. Reads stdin when no path is given.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	cfg, err := m.loadConfig(*configPath, false)
	if err != nil {
		return err
	}
	if *pricingFile != "" {
		p, err := config.LoadPricing(*pricingFile)
		if err != nil {
			return err
		}
		cfg.Prices = p
	}
	if *format != "" {
		if _, err := parse.ParseFormat(*format); err != nil {
			return usagef("--format: %v", err)
		}
	}
	prices, err := pipeline.PriceTable(cfg)
	if err != nil {
		return err
	}
	pick := func(path string) (config.Source, error) {
		var src *config.Source
		switch {
		case *sourceName != "":
			for i := range cfg.Sources {
				if cfg.Sources[i].Name == *sourceName {
					src = &cfg.Sources[i]
				}
			}
			if src == nil {
				return config.Source{}, usagef("--source %q: no such source in the config", *sourceName)
			}
		case path != "":
			src = pipeline.SourceFor(cfg, path)
		}
		if src == nil && len(cfg.Sources) > 0 {
			src = &cfg.Sources[0]
		}
		s := config.Source{Name: "cli", Format: config.FormatAuto, Marker: parse.DefaultMarker, MaxLineBytes: cfg.MaxLineBytes}
		if src != nil {
			s = *src
		}
		if *format != "" {
			s.Format = config.Format(*format)
		}
		switch *marker {
		case "":
		case "none":
			s.Marker = ""
		default:
			s.Marker = *marker
		}
		return s, nil
	}

	out := bufio.NewWriterSize(m.Stdout, 256<<10)
	defer out.Flush()
	errOut := bufio.NewWriter(m.Stderr)
	defer errOut.Flush()
	pc := &parseCmd{out: out, errOut: errOut, prices: prices, parsers: map[string]*parse.Parser{}}

	paths, err := expandPaths(fs.Args())
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		src, err := pick("")
		if err != nil {
			return err
		}
		return pc.run(ctx, &src, "", io.NopCloser(m.Stdin))
	}
	failed := 0
	for _, path := range paths {
		src, err := pick(path)
		if err != nil {
			return err
		}
		f, err := tailer.OpenFile(path, nil)
		if err != nil {
			errOut.Flush()
			fmt.Fprintf(m.Stderr, "tokentail: parse %s: %v\n", path, err)
			failed++
			continue
		}
		err = pc.run(ctx, &src, path, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	if failed > 0 {
		return errSilent
	}
	return nil
}

// expandPaths expands globs; a pattern matching nothing is kept as a path so
// that opening it reports the error.
func expandPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if !strings.ContainsAny(a, "*?[") {
			out = append(out, a)
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, usagef("bad glob %q: %v", a, err)
		}
		if len(matches) == 0 {
			out = append(out, a)
		}
		out = append(out, matches...)
	}
	return out, nil
}

type parseCmd struct {
	out, errOut *bufio.Writer
	prices      *parse.PriceTable
	parsers     map[string]*parse.Parser
	buf         []byte
}

func (c *parseCmd) run(ctx context.Context, src *config.Source, path string, r io.Reader) error {
	p, ok := c.parsers[src.Name]
	if !ok {
		var err error
		if p, err = parse.NewParser(pipeline.ParserConfig(src, c.prices)); err != nil {
			return fmt.Errorf("source %s: %w", src.Name, err)
		}
		c.parsers[src.Name] = p
	}
	name := path
	if name == "" {
		name = "-"
	}
	maxLine := int(src.MaxLineBytes)
	var counts pipeline.Counts
	fp := &pipeline.FileParser{Parser: p, Decoder: parse.NewDecoder(pipeline.Format(src), path, maxLine), Counts: &counts}
	lines := tailer.NewLineReader(r, 0, maxLine, true)
	b := &pipeline.Batch{Arena: parse.NewArena(1 << 20)}
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.Arena.Reset()
		}
		line, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		fp.Line(line, time.Now(), b)
		if err := c.print(name, b); err != nil {
			return err
		}
	}
	fp.Finish(path, lines.Offset(), time.Now(), b)
	return c.print(name, b)
}

// print writes what the last line gave, and empties b.
func (c *parseCmd) print(name string, b *pipeline.Batch) error {
	for i := range b.Records {
		c.buf = b.Records[i].AppendJSON(c.buf[:0])
		c.buf = append(c.buf, '\n')
		if _, err := c.out.Write(c.buf); err != nil {
			return fmt.Errorf("write stdout: %w", err)
		}
	}
	for i := range b.Rejects {
		c.printReject(name, &b.Rejects[i])
	}
	b.Records, b.Rejects = b.Records[:0], b.Rejects[:0]
	return nil
}

func (c *parseCmd) printReject(name string, rej *parse.Reject) {
	fmt.Fprintf(c.errOut, "%s:%d: %s: %s\n", name, rej.Offset, rej.Reason, rej.Detail)
}
