package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/rules"
	"github.com/tokentail/tokentail/tailer"
)

const rulesUsage = `Usage:
  tokentail rules check [--config FILE] [RULES.yaml]
      validate a rules file (default: the config's rules_file)
  tokentail rules test [--config FILE] [--rules RULES.yaml] PATH_OR_GLOB...
      replay log files through the rules, without notifying; print one JSON
      line per alert transition: {"at","alertname","severity","state","value","labels"}
`

func (m *Main) runRules(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, rulesUsage)
		return usagef("rules: give a subcommand: check or test")
	}
	switch args[0] {
	case "check":
		return m.runRulesCheck(args[1:])
	case "test":
		return m.runRulesTest(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(m.Stdout, rulesUsage)
		return nil
	}
	fmt.Fprint(m.Stderr, rulesUsage)
	return usagef("rules: unknown subcommand %q", args[0])
}

// rulesPath picks the rules file: the argument, else the config's rules_file.
func (m *Main) rulesPath(arg, configPath string) (string, *config.Config, error) {
	cfg, err := m.loadConfig(configPath, false)
	if err != nil {
		return "", nil, err
	}
	if arg != "" {
		return arg, cfg, nil
	}
	if cfg.RulesFile == "" {
		return "", nil, usagef("rules: give a rules file (no rules_file in the config)")
	}
	return cfg.RulesFile, cfg, nil
}

func (m *Main) runRulesCheck(args []string) error {
	fs := flag.NewFlagSet("tokentail rules check", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	fs.Usage = func() { fmt.Fprint(m.Stderr, rulesUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 1 {
		return usagef("rules check: give one rules file")
	}
	path, _, err := m.rulesPath(fs.Arg(0), *configPath)
	if err != nil {
		return err
	}
	f, err := rules.Load(path)
	if err != nil {
		return rulesLoadError(err)
	}
	for _, w := range f.Warnings() {
		fmt.Fprintf(m.Stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(m.Stdout, "%s: ok: %d rules, %d notifiers\n", path, len(f.Rules), len(f.Notifiers))
	return nil
}

// rulesLoadError makes an unreadable rules file a usage error (exit 2), as
// a missing config file is.
func rulesLoadError(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return err
	}
	return usagef("%v", err)
}

func (m *Main) runRulesTest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokentail rules test", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	rulesFile := fs.String("rules", "", "rules file (default: the config's rules_file)")
	source := fs.String("source", "", "read every file with this source's settings (default: the source whose paths match, else the first)")
	fs.Usage = func() { fmt.Fprint(m.Stderr, rulesUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() == 0 {
		return usagef("rules test: give at least one PATH or glob")
	}
	path, cfg, err := m.rulesPath(*rulesFile, *configPath)
	if err != nil {
		return err
	}
	if *source != "" && !hasSource(cfg.Sources, *source) {
		return usagef("--source %q: no such source in %s", *source, cfg.File)
	}
	f, err := rules.Load(path)
	if err != nil {
		return rulesLoadError(err)
	}
	prices, err := pipeline.PriceTable(cfg)
	if err != nil {
		return err
	}
	files, err := expandPaths(fs.Args())
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(m.Stdout, 64<<10)
	var buf []byte
	eng := rules.New(f, nil)
	st, counts, err := replayFiles(ctx, cfg, *source, prices, files, eng, func(t *rules.Transition) error {
		buf = append(t.AppendJSON(buf[:0]), '\n')
		_, err := out.Write(buf)
		return err
	})
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write stdout: %w", ferr)
	}
	if err != nil {
		return err
	}
	var total pipeline.Counts
	for _, c := range counts {
		total.Add(c)
	}
	var dropped, late uint64
	for _, s := range eng.Stats() {
		dropped += s.GroupsDropped
		late += s.Late
	}
	fmt.Fprintf(m.Stderr, "rules test: %d files, %d records, %d rejects, %d transitions", len(files), st.Records, total.RejectTotal(), st.Transitions)
	if st.Records > 0 {
		fmt.Fprintf(m.Stderr, ", from %s to %s", st.First.UTC().Format(time.RFC3339), st.Last.UTC().Format(time.RFC3339))
	}
	if dropped > 0 {
		fmt.Fprintf(m.Stderr, ", %d records over max_groups", dropped)
	}
	if late > 0 {
		fmt.Fprintf(m.Stderr, ", %d records too late", late)
	}
	fmt.Fprintln(m.Stderr)
	return nil
}

// replayFiles replays files through eng in event-time order, calling emit
// for each transition: what `rules test` prints and `backfill --alerts`
// notifies. Files are parsed in parallel; the engine runs in the caller's
// goroutine.
func replayFiles(ctx context.Context, cfg *config.Config, source string, prices *parse.PriceTable, files []string,
	eng *rules.Engine, emit func(*rules.Transition) error) (rules.ReplayStats, []pipeline.Counts, error) {
	var streams []rules.Stream
	// Each file is parsed in its own goroutine, with its own parser and
	// counts: a parse.Parser is not safe for concurrent use.
	counts := make([]pipeline.Counts, len(files))
	var wg sync.WaitGroup
	var readers []io.Closer
	// On the way out: stop every parsing goroutine, wait for them all, and
	// only then close their files (one may still be reading its file).
	defer func() {
		for _, s := range streams {
			s.(*fileStream).close()
		}
		wg.Wait()
		for _, r := range readers {
			_ = r.Close()
		}
	}()
	for _, file := range files {
		src := replaySource(cfg, source, file)
		p, err := parse.NewParser(pipeline.ParserConfig(src, prices))
		if err != nil {
			return rules.ReplayStats{}, nil, fmt.Errorf("source %s: %w", src.Name, err)
		}
		r, err := tailer.OpenFile(file, nil)
		if err != nil {
			return rules.ReplayStats{}, nil, fmt.Errorf("replay: %w", err)
		}
		readers = append(readers, r)
		maxLine := int(src.MaxLineBytes)
		fsm := &fileStream{
			ctx:   ctx,
			name:  file,
			fp:    &pipeline.FileParser{Parser: p, Decoder: parse.NewDecoder(pipeline.Format(src), file, maxLine), Counts: &counts[len(streams)]},
			lines: tailer.NewLineReader(r, 0, maxLine, true),
			now:   time.Now(),
		}
		streams = append(streams, fsm)
		fsm.start(&wg)
	}
	st, err := rules.Replay(eng, streams, emit)
	return st, counts, err
}

// replaySource picks the settings a file is read with, as backfill does.
func replaySource(cfg *config.Config, name, path string) *config.Source {
	for i := range cfg.Sources {
		if name != "" && cfg.Sources[i].Name == name {
			return &cfg.Sources[i]
		}
	}
	if s := pipeline.SourceFor(cfg, path); s != nil {
		return s
	}
	if len(cfg.Sources) > 0 {
		return &cfg.Sources[0]
	}
	return &config.Source{Name: "cli", Format: config.FormatAuto, Marker: parse.DefaultMarker, MaxLineBytes: cfg.MaxLineBytes}
}

// fileStream reads one file's records for rules.Replay. Its lines are
// parsed ahead, a batch at a time, in a goroutine of its own (files are
// parsed in parallel; the merge and the engine run in the caller's).
type fileStream struct {
	ctx   context.Context
	name  string
	fp    *pipeline.FileParser
	lines *tailer.LineReader
	now   time.Time // dates records without a time of their own

	full chan *pipeline.Batch // parsed, in file order; closed at the end
	free chan *pipeline.Batch // read by Next, for the parser to reuse
	stop chan struct{}
	err  error // why full was closed early; read after full is closed
	cur  *pipeline.Batch
	i    int
}

const streamBatch = 512

// start begins parsing; the caller must call close.
func (s *fileStream) start(wg *sync.WaitGroup) {
	s.full = make(chan *pipeline.Batch, 2)
	s.free = make(chan *pipeline.Batch, 3)
	s.stop = make(chan struct{})
	for range 3 {
		s.free <- &pipeline.Batch{Records: make([]parse.Record, 0, streamBatch), Arena: parse.NewArena(streamBatch * 512)}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(s.full)
		for {
			var b *pipeline.Batch
			select {
			case b = <-s.free:
			case <-s.stop:
				return
			}
			eof, err := s.fill(b)
			if err != nil {
				s.err = err
				return
			}
			select {
			case s.full <- b:
			case <-s.stop:
				return
			}
			if eof {
				return
			}
		}
	}()
}

// close stops the parser goroutine; the caller waits for it on the WaitGroup.
func (s *fileStream) close() { close(s.stop) }

func (s *fileStream) Next() (*parse.Record, error) {
	for s.cur == nil || s.i >= len(s.cur.Records) {
		if s.cur != nil {
			s.free <- s.cur // never blocks: there are 3 batches and 3 places
		}
		b, ok := <-s.full
		if !ok {
			s.cur = nil
			if s.err != nil {
				return nil, s.err
			}
			return nil, io.EOF
		}
		s.cur, s.i = b, 0
	}
	s.i++
	return &s.cur.Records[s.i-1], nil
}

func (s *fileStream) fill(b *pipeline.Batch) (eof bool, err error) {
	if err := s.ctx.Err(); err != nil {
		return false, err
	}
	b.Records, b.Rejects = b.Records[:0], b.Rejects[:0]
	b.Arena.Reset()
	for len(b.Records) < streamBatch && len(b.Rejects) < streamBatch {
		line, err := s.lines.Next()
		if errors.Is(err, io.EOF) {
			s.fp.Finish(s.name, s.lines.Offset(), s.now, b)
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", s.name, err)
		}
		s.fp.Line(line, s.now, b)
	}
	return false, nil
}
