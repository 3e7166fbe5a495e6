package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/tailer"
)

// BackfillOptions configure one backfill.
type BackfillOptions struct {
	Config  *config.Config
	Files   []string // paths, globs already expanded
	Source  string   // read every file with this source's settings; "" picks by path
	Writers []Writer
	Prices  *parse.PriceTable
	// BatchSize is the number of records per batch (default 5000).
	BatchSize int
	// Workers is the number of files parsed at once (default GOMAXPROCS).
	Workers int
	// Grace is how long in-flight batches may take to land after ctx ends
	// (Ctrl-C) before they are abandoned; default 10s.
	Grace  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Progress is a live view of a backfill, safe to read from another goroutine.
type Progress struct {
	BytesRead  atomic.Int64
	BytesTotal int64
	Records    atomic.Int64
	Files      atomic.Int64
}

// Summary is what a backfill did.
type Summary struct {
	Files       int
	FilesFailed int
	Bytes       int64
	Counts
	Writers     []WriterStats
	Elapsed     time.Duration
	Interrupted bool
}

// Backfill reads the files once and writes every record to every writer.
// Files are parsed in parallel with each other and with the writers; writes
// are idempotent, so running it again, or after an interruption, adds nothing
// that is already stored.
func Backfill(ctx context.Context, o BackfillOptions, prog *Progress) (Summary, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 5000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if prog == nil {
		prog = &Progress{}
	}
	start := time.Now()

	// Writers get their own context: on Ctrl-C reading stops at once, and
	// batches already parsed get Grace to land before writers are cut off.
	writeCtx, cancelWrites := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWrites()
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	stopGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(o.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelWrites()
		case <-writeCtx.Done():
		}
	})
	defer stopGrace()

	// Enough batches for every parser to fill one while each writer holds a
	// couple: this bounds memory whatever the size of the files.
	pool := NewBatchPool(o.Workers+2*len(o.Writers)+2, o.BatchSize)
	fan := NewFanout(writeCtx, o.Writers, 2, o.Logger, stopReading, nil)

	files := make(chan string)
	var mu sync.Mutex
	var sum Summary
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parsers := map[string]*parse.Parser{}
			var counts Counts
			failed := 0
			for path := range files {
				if err := backfillFile(readCtx, o, path, parsers, &counts, pool, fan, prog); err != nil {
					if readCtx.Err() == nil {
						o.Logger.Error("backfill file failed", "file", path, "err", err)
					}
					failed++
				}
				prog.Files.Add(1)
			}
			mu.Lock()
			sum.Counts.Add(counts)
			sum.FilesFailed += failed
			mu.Unlock()
		}()
	}
feed:
	for _, f := range o.Files {
		select {
		case files <- f:
		case <-readCtx.Done():
			break feed
		}
	}
	close(files)
	wg.Wait()
	err := fan.Close()

	sum.Files = len(o.Files)
	sum.Bytes = prog.BytesRead.Load()
	sum.Writers = fan.Stats()
	sum.Elapsed = time.Since(start)
	sum.Interrupted = ctx.Err() != nil
	if err == nil && sum.Interrupted {
		err = ctx.Err()
	}
	if err == nil && sum.FilesFailed > 0 {
		err = fmt.Errorf("%d of %d files could not be read", sum.FilesFailed, sum.Files)
	}
	return sum, err
}

func backfillFile(ctx context.Context, o BackfillOptions, path string, parsers map[string]*parse.Parser,
	counts *Counts, pool *BatchPool, fan *Fanout, prog *Progress) error {
	src := o.source(path)
	p, ok := parsers[src.Name]
	if !ok {
		var err error
		if p, err = parse.NewParser(ParserConfig(src, o.Prices)); err != nil {
			return fmt.Errorf("source %s: %w", src.Name, err)
		}
		parsers[src.Name] = p
	}
	r, err := tailer.OpenFile(path, &prog.BytesRead)
	if err != nil {
		return err
	}
	defer r.Close()
	maxLine := int(src.MaxLineBytes)
	fp := &FileParser{Parser: p, Decoder: parse.NewDecoder(Format(src), path, maxLine), Counts: counts}
	lines := tailer.NewLineReader(r, 0, maxLine, true)

	b, ok := pool.Get(ctx.Done())
	if !ok {
		return ctx.Err()
	}
	flush := func() bool {
		fan.Send(b)
		b, ok = pool.Get(ctx.Done())
		return ok
	}
	defer func() {
		if b != nil {
			if b.Len() > 0 && ctx.Err() == nil {
				fan.Send(b)
			} else {
				b.refs.Store(1)
				b.Done()
			}
		}
	}()
	var n int
	now := o.Now()
	for {
		line, err := lines.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if n++; n%1024 == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			now = o.Now()
		}
		before := len(b.Records)
		fp.Line(line, now, b)
		prog.Records.Add(int64(len(b.Records) - before))
		if len(b.Records) >= o.BatchSize || len(b.Rejects) >= o.BatchSize {
			if !flush() {
				b = nil
				return ctx.Err()
			}
		}
	}
	fp.Finish(path, lines.Offset(), now, b)
	return nil
}

// source picks the settings a file is read with.
func (o BackfillOptions) source(path string) *config.Source {
	cfg := o.Config
	if o.Source != "" {
		for i := range cfg.Sources {
			if cfg.Sources[i].Name == o.Source {
				return &cfg.Sources[i]
			}
		}
	}
	if s := SourceFor(cfg, path); s != nil {
		return s
	}
	if len(cfg.Sources) > 0 {
		return &cfg.Sources[0]
	}
	return &config.Source{Name: "backfill", Format: config.FormatAuto, Marker: parse.DefaultMarker, MaxLineBytes: cfg.MaxLineBytes}
}
