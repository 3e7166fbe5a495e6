package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// WriterStats is what one writer did over a run.
type WriterStats struct {
	Name    string
	Batches int64
	WriteResult
	Busy time.Duration // time spent inside Write
}

// Fanout hands every batch to every writer, each in its own goroutine, so
// the databases are written concurrently; a batch goes back to its pool when
// the last writer is done with it. A writer that returns an error stops the
// fan-out (Err) — writers retry transient failures themselves, so an error
// here means the context ended or the failure is permanent.
type Fanout struct {
	writers []Writer
	chans   []chan *Batch
	wg      sync.WaitGroup
	log     *slog.Logger

	mu    sync.Mutex
	stats []WriterStats
	err   error
	fail  context.CancelFunc

	// OnWritten, when set, is called by each writer after it has durably
	// written a batch (before the batch is released).
	OnWritten func(writer int, b *Batch)
}

// NewFanout starts one goroutine per writer. Each queue holds depth batches.
// fail is called once on the first writer error (to stop the readers).
func NewFanout(ctx context.Context, writers []Writer, depth int, log *slog.Logger, fail context.CancelFunc, onWritten func(int, *Batch)) *Fanout {
	f := &Fanout{writers: writers, log: log, fail: fail, stats: make([]WriterStats, len(writers)), OnWritten: onWritten}
	for i, w := range writers {
		f.stats[i].Name = w.Name()
		ch := make(chan *Batch, depth)
		f.chans = append(f.chans, ch)
		f.wg.Add(1)
		go f.loop(ctx, i, ch)
	}
	return f
}

// Send queues b for every writer; it blocks while a writer's queue is full.
func (f *Fanout) Send(b *Batch) {
	if len(f.writers) == 0 {
		b.refs.Store(1)
		b.Done()
		return
	}
	b.refs.Store(int32(len(f.writers)))
	for _, ch := range f.chans {
		ch <- b
	}
}

// Close waits for the writers to drain their queues and end.
func (f *Fanout) Close() error {
	for _, ch := range f.chans {
		close(ch)
	}
	f.wg.Wait()
	return f.Err()
}

// Err is the first writer error.
func (f *Fanout) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Stats returns each writer's totals so far.
func (f *Fanout) Stats() []WriterStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]WriterStats(nil), f.stats...)
}

func (f *Fanout) loop(ctx context.Context, i int, ch <-chan *Batch) {
	defer f.wg.Done()
	w := f.writers[i]
	for b := range ch {
		if f.Err() != nil {
			b.Done() // drain: the run is failing, don't write more
			continue
		}
		start := time.Now()
		res, err := w.Write(ctx, b)
		busy := time.Since(start)
		if err == nil && f.OnWritten != nil {
			f.OnWritten(i, b)
		}
		f.mu.Lock()
		s := &f.stats[i]
		s.Batches++
		s.Written += res.Written
		s.Duplicates += res.Duplicates
		s.Refused += res.Refused
		s.Rejects += res.Rejects
		s.Busy += busy
		if err != nil && f.err == nil {
			f.err = err
			if !errors.Is(err, context.Canceled) {
				f.log.Error("writer failed", "writer", w.Name(), "err", err)
			}
			if f.fail != nil {
				f.fail()
			}
		}
		f.mu.Unlock()
		b.Done()
	}
}
