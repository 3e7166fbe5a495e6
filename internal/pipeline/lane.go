package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/tailer"
)

// A lane follows every source for one writer and keeps its own positions, so
// that one writer's outage never holds another back: each catches up from its
// own positions when its server returns. Reading twice costs a little CPU
// (parsing is about a microsecond a line); sharing one reader would make the
// fast writer wait for the slow one, or keep the slow one's backlog in memory.
type lane struct {
	writer Writer
	fan    *Fanout
}

// sourceReader follows one source's files for one lane. Its positions file
// is its own, so start_at and positions never mix between sources.
type sourceReader struct {
	d       *Daemon
	lane    *lane
	src     *config.Source
	parser  *parse.Parser
	posPath string
	log     *slog.Logger

	mu       sync.Mutex
	acked    tailer.Positions // durably written, saved to posPath
	follower *tailer.Follower
	// saveFailing is set while saving positions fails: the error is
	// logged when it starts and when it ends, not for every batch.
	saveFailing bool
}

// readerFile is what a reader keeps per followed file.
type readerFile struct {
	fp     *FileParser
	pos    tailer.Position // after the last line handed to the parser
	done   bool
	counts Counts
}

func positionsPath(stateDir, writer, source string) string {
	return filepath.Join(stateDir, "positions", writer, source+".json")
}

// run follows the source until ctx ends, sending batches to the lane.
func (r *sourceReader) run(ctx context.Context, pool *BatchPool) error {
	if err := os.MkdirAll(filepath.Dir(r.posPath), 0o750); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	known, err := tailer.LoadPositions(r.posPath)
	if err != nil {
		return err
	}
	r.acked = known
	f, err := tailer.Follow(ctx, tailer.Options{
		Globs:        r.src.Paths,
		StartAtEnd:   r.src.StartAt == config.StartEnd,
		MaxLineBytes: int(r.src.MaxLineBytes),
		Known:        known,
		Logger:       r.log,
		Stats:        r.d.followStats(r.lane.writer.Name()),
		PollInterval: r.d.opts.PollInterval,
	})
	if err != nil {
		return fmt.Errorf("follow %s: %w", r.src.Name, err)
	}
	r.mu.Lock()
	r.follower = f
	r.mu.Unlock()
	defer f.Close()
	return r.read(ctx, pool, f)
}

// read moves lines into batches: a batch is sent when full or when its
// oldest line has waited batch_timeout.
func (r *sourceReader) read(ctx context.Context, pool *BatchPool, f *tailer.Follower) error {
	files := map[tailer.FileKey]*readerFile{}
	touched := map[tailer.FileKey]*readerFile{}
	var b *Batch
	var timer batchTimer
	defer timer.stop()

	seal := func() {
		for k, rf := range touched {
			pos := rf.pos
			if from, held := rf.fp.Decoder.HeldFrom(); held && from < pos.Offset {
				pos.Offset = from // never past the start of a message still being joined
			}
			b.Ends = append(b.Ends, FileEnd{Pos: pos, Done: rf.done})
			r.d.metrics.Observe(r.src.Name, rf.counts)
			rf.counts = Counts{}
			delete(touched, k)
			if rf.done {
				delete(files, k)
			}
		}
		b.owner = r
		r.lane.fan.Send(b)
		b = nil
		timer.stop()
	}
	defer func() {
		// Shutdown: what was read still goes to the writer, so that its
		// position can be saved; the lane gives it shutdown_timeout.
		if b == nil {
			return
		}
		if b.Len() > 0 || len(touched) > 0 {
			seal()
			return
		}
		b.refs.Store(1)
		b.Done()
	}()

	for {
		if b == nil {
			var ok bool
			if b, ok = pool.Get(ctx.Done()); !ok {
				return ctx.Err()
			}
		}
		wait := ctx
		if timer.ctx != nil {
			wait = timer.ctx
		}
		line, err := f.Next(wait)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if timer.ctx != nil && timer.ctx.Err() != nil {
				seal()
				continue
			}
			return fmt.Errorf("follow %s: %w", r.src.Name, err)
		}
		rf := files[line.Key]
		if rf == nil {
			rf = &readerFile{}
			rf.fp = &FileParser{Parser: r.parser, Decoder: parse.NewDecoder(Format(r.src), line.Path, int(r.src.MaxLineBytes)), Counts: &rf.counts}
			files[line.Key] = rf
		}
		if line.Done {
			rf.fp.Finish(line.Path, line.End, r.d.now(), b)
			rf.done = true
		} else {
			rf.fp.Line(line, r.d.now(), b)
		}
		rf.pos = line.Position()
		touched[line.Key] = rf
		if timer.ctx == nil {
			timer.start(ctx, r.d.batchTimeout(r.lane.writer))
		}
		if len(b.Records) >= r.d.batchSize(r.lane.writer) || len(b.Rejects) >= r.d.batchSize(r.lane.writer) || line.Done {
			seal()
		}
	}
}

// written runs in the lane's writer goroutine once a batch is durable: only
// then do its files' positions move, and they are saved before the writer
// takes the next batch.
func (r *sourceReader) written(b *Batch) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range b.Ends {
		if e.Done {
			delete(r.acked, e.Pos.Key)
			continue
		}
		r.acked[e.Pos.Key] = e.Pos
	}
	err := r.acked.Save(r.posPath)
	if err == nil {
		if r.saveFailing {
			r.saveFailing = false
			r.log.Info("positions saved again", "file", r.posPath)
		}
		return
	}
	// Unsaved positions lose nothing: a restart reads again from the last
	// saved ones, and writes are idempotent. So reading goes on (rows keep
	// landing, rules keep seeing records) and the next batch tries again;
	// stopping until state_dir has room would leave the databases behind
	// for as long as nobody frees it.
	r.d.metrics.PositionErrors.Inc()
	select {
	case <-r.d.stopping:
		r.log.Error("positions not saved at shutdown: lines since the last save will be read again (nothing is counted twice)", "file", r.posPath, "err", err)
		return
	default:
	}
	if !r.saveFailing {
		r.saveFailing = true
		r.log.Error("cannot save positions under state_dir; reading goes on and every batch tries again (until then a restart reads again what was read since the last save: nothing is counted twice)",
			"file", r.posPath, "err", err)
	}
}

// files reports bytes behind per followed file.
func (r *sourceReader) files() []tailer.FileStatus {
	r.mu.Lock()
	f := r.follower
	r.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Files()
}

var errNoSources = errors.New("no sources configured: nothing to follow")

// batchTimer is the deadline of the open batch: Next waits on it, so a batch
// is sent batch_timeout after its first line even when no more lines come.
type batchTimer struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func (t *batchTimer) start(parent context.Context, d time.Duration) {
	t.ctx, t.cancel = context.WithTimeout(parent, d)
}

func (t *batchTimer) stop() {
	if t.cancel != nil {
		t.cancel()
	}
	t.ctx, t.cancel = nil, nil
}
