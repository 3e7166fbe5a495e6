package tailer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options configure a Follower. Only Globs is required.
type Options struct {
	// Globs name the files to follow (filepath.Match syntax). They are
	// evaluated again whenever a watched directory changes and at every
	// poll, so files that appear later are followed too. Symlinks are
	// followed; compressed files (.gz and the like) are left to backfill.
	Globs []string
	// StartAtEnd starts files seen for the first time at startup at their
	// end instead of their beginning. Files that appear while running are
	// always read from their beginning: they are new content.
	StartAtEnd bool
	// MaxLineBytes bounds a line; longer ones are cut (Line.Truncated).
	// Default 1 MiB.
	MaxLineBytes int
	// PollInterval is how often every followed file is looked at (a stat,
	// no read) and the globs evaluated again, for filesystems where change
	// events do not arrive, and to let go of rotated files. Default 1s.
	PollInterval time.Duration
	// RotateWait is how long a rotated or deleted file is kept open after
	// it last grew, for the lines its writer adds before reopening its log.
	// Default 5s.
	RotateWait time.Duration
	// NoWatch turns change events off: files are found and read at each
	// poll only.
	NoWatch bool
	// Known are the saved positions: files found again (by device, inode and
	// fingerprint, or by fingerprint among their siblings once rotated away)
	// resume after their saved offset.
	Known Positions
	// Logger receives what the follower has to say; default slog.Default().
	Logger *slog.Logger
	// Stats receives the counters; default a new one, see Follower.Stats.
	Stats *Stats

	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
	// Tick, when set, replaces the PollInterval ticker, for tests.
	Tick <-chan time.Time
}

// Stats count what following did, for metrics. Loss is never silent: each
// of LinesCut, BytesSkipped and FilesMissed also has a log line naming the
// file. The counters only grow.
type Stats struct {
	LinesCut     atomic.Int64 // lines longer than MaxLineBytes, cut
	BytesSkipped atomic.Int64 // bytes lost to truncation (an estimate: a lower bound)
	FilesMissed  atomic.Int64 // known files not found again: rotated away unread
	FilesOpened  atomic.Int64
	FilesClosed  atomic.Int64
	Truncations  atomic.Int64 // files that shrank or were rewritten (copytruncate)
	Rotations    atomic.Int64 // files that left their path: renamed, deleted, link swapped
}

// FileStatus is one followed file, for the bytes-behind gauge.
type FileStatus struct {
	Key  FileKey
	Path string
	Size int64 // when last looked at
	Read int64 // bytes read, the unfinished last line included
}

// Behind is how many bytes of the file are still to be read.
func (s FileStatus) Behind() int64 { return max(s.Size-s.Read, 0) }

// ErrClosed is returned by Next once the Follower is closed.
var ErrClosed = errors.New("tailer: follower closed")

// errNoLine is what next returns without waiting when no line is ready.
var errNoLine = errors.New("tailer: no line ready")

// pickBudget is how many lines Next reads from one file before it looks
// whether other files are waiting: fairness, at one lock per batch.
const pickBudget = 1024

// retiredMax bounds the memory of files let go, kept so a file that comes
// back (a glob that failed for a moment) resumes instead of being read again.
const retiredMax = 4096

type retiredFile struct {
	fp     fingerprint
	offset int64
}

// Follower follows the files its globs match. Lines are pulled with Next.
type Follower struct {
	log        *slog.Logger
	stats      *Stats
	now        func() time.Time
	globs      []string
	startAtEnd bool
	maxLine    int
	rotateWait time.Duration
	tick       <-chan time.Time
	ticker     *time.Ticker // nil when Options.Tick is set

	watcher *fsnotify.Watcher // nil when polling only
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	done    chan struct{} // closed by Close
	once    sync.Once
	// wake is signalled when a file is queued; capacity 1, so a signal is
	// never lost and the sender never blocks.
	wake chan struct{}
	// syncReq asks the loop for a sync; capacity 1 for the same reasons.
	syncReq chan struct{}

	// owned by the goroutine in Next (nextMu makes a second caller wait,
	// and lets Close wait for the first).
	nextMu    sync.Mutex
	br        *bufio.Reader // shared by every plain file: one is read at a time
	cur       *file
	curID     *identity
	curPath   string
	curFinish bool
	curPicked time.Time // when cur was picked: what it holds after is newer
	budget    int

	// horizon (Unix ns) is stamped on every Line: see Position.Horizon. It
	// is lowered at once when a file with lines to read is found, raised
	// at each sync (recomputed), read without a lock by Next.
	horizon atomic.Int64

	mu         sync.Mutex // guards what follows and each file's guarded fields
	files      map[devIno]*file
	byName     map[string]*file
	ready      []*file
	events     []Line // Done lines not tied to an open file (known files missed)
	inUse      map[FileKey]bool
	retired    map[FileKey]bool
	retiredFIF []FileKey
	gone       map[devIno]retiredFile
	goneFIF    []devIno
	knownByID  map[devIno][]Position
	knownPaths map[string]bool
	watched    map[string]bool
	failed     map[string]bool // paths that could not be opened, logged once
	closed     bool

	// Rotated siblings (siblings.go): files next to the followed ones,
	// named like their rotations, that no position and no followed file
	// accounts for. Those modified at or after rotatedSince hold lines
	// nobody has read, and are read from their start.
	rotatedSince time.Time
	firstStart   bool // no positions were saved: siblings there now are history
	knownBases   map[string]bool
	siblings     map[string]siblingState // looked at, nothing to do unless changed
	doneFP       fpSet                   // fingerprints of files read to their end
	// undecided is the earliest mtime of the siblings left undecided by
	// the last scan: they hold the horizon down until they are read.
	undecided time.Time
}

// Follow starts following the files opts.Globs match. Every file matched
// now is opened (resumed from opts.Known, or started per StartAtEnd) before
// it returns. Finding and watching files ends when ctx ends or Close is
// called; Close must be called in any case, to close the files.
func Follow(ctx context.Context, opts Options) (*Follower, error) {
	if len(opts.Globs) == 0 {
		return nil, errors.New("follow: no globs")
	}
	f := &Follower{
		log:        opts.Logger,
		stats:      opts.Stats,
		now:        opts.Now,
		startAtEnd: opts.StartAtEnd,
		maxLine:    opts.MaxLineBytes,
		rotateWait: opts.RotateWait,
		tick:       opts.Tick,
		done:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		syncReq:    make(chan struct{}, 1),
		br:         bufio.NewReaderSize(nil, 256<<10),
		files:      map[devIno]*file{},
		byName:     map[string]*file{},
		inUse:      map[FileKey]bool{},
		retired:    map[FileKey]bool{},
		gone:       map[devIno]retiredFile{},
		knownByID:  map[devIno][]Position{},
		knownPaths: map[string]bool{},
		watched:    map[string]bool{},
		failed:     map[string]bool{},
		knownBases: map[string]bool{},
		siblings:   map[string]siblingState{},
		doneFP:     newFPSet(retiredMax),
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.stats == nil {
		f.stats = &Stats{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.maxLine <= 0 {
		f.maxLine = 1 << 20
	}
	if f.rotateWait <= 0 {
		f.rotateWait = 5 * time.Second
	}
	for _, g := range opts.Globs {
		abs, err := filepath.Abs(g)
		if err != nil {
			return nil, fmt.Errorf("glob %s: %w", g, err)
		}
		if _, err := filepath.Match(abs, ""); err != nil {
			return nil, fmt.Errorf("glob %s: %w", g, err)
		}
		f.globs = append(f.globs, abs)
	}
	if fi, err := os.Stat(f.globs[0][:1]); err != nil {
		return nil, fmt.Errorf("follow: %w", err)
	} else if _, ok := fileID(fi); !ok {
		return nil, errors.New("follow: this system gives no device and inode numbers to know files by")
	}
	// Known is read here only: the pipeline goes on using the map.
	start := f.now()
	f.horizon.Store(start.UnixNano())
	if h := opts.Known.horizon(); !h.IsZero() {
		// Positions were saved before: a rotated file modified since the
		// latest horizon may hold lines that no position covers.
		f.rotatedSince = h.Add(-rotatedMargin)
		switch {
		case h.Equal(clockWentBack()):
			f.log.Warn("the clock was set back while positions were saved: reading every rotated file that no position covers (records read before are not stored twice)")
		case h.After(start.Add(rotatedMargin)):
			// Saved by a clock ahead of this one (set back since, or not
			// set yet after a boot): files written since are stamped
			// before the horizon, which then tells nothing.
			f.log.Warn("positions were saved by a clock ahead of this one: reading every rotated file that no position covers (records read before are not stored twice)",
				"horizon", h, "now", start)
			f.rotatedSince = clockWentBack()
		}
	} else {
		// First start: rotated files are history, left to backfill; only
		// what appears from now on is new.
		f.firstStart = true
		f.rotatedSince = start.Add(-rotatedMargin)
	}
	for _, p := range opts.Known {
		if p.Key == horizonKey {
			continue
		}
		f.knownByID[p.devIno()] = append(f.knownByID[p.devIno()], p)
		f.knownPaths[p.Path] = true
		f.knownBases[p.Path] = true
		if p.RealPath != "" {
			f.knownBases[p.RealPath] = true
		}
		// A known key is never issued to another file, even once let go:
		// the pipeline may still hold its position.
		f.retire(p.Key)
	}
	if f.tick == nil {
		iv := opts.PollInterval
		if iv <= 0 {
			iv = time.Second
		}
		f.ticker = time.NewTicker(iv)
		f.tick = f.ticker.C
	}
	if !opts.NoWatch {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			// Too many inotify instances, or none on this system: polling
			// still finds everything, later.
			f.log.Warn("file change events unavailable; polling only", "err", err)
		} else {
			f.watcher = w
		}
	}

	f.mu.Lock()
	f.sync(true)
	f.resumeUnmatched()
	// After the known files have been claimed, so their copies are
	// recognised as theirs.
	f.scanRotated(true)
	f.updateHorizon(start)
	f.mu.Unlock()

	ctx, f.cancel = context.WithCancel(ctx)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		f.loop(ctx)
	}()
	return f, nil
}

// Stats returns the follower's counters.
func (f *Follower) Stats() *Stats { return f.stats }

// Files returns the files being followed.
func (f *Follower) Files() []FileStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]FileStatus, 0, len(f.files))
	for _, fl := range f.files {
		out = append(out, FileStatus{Key: fl.id.key, Path: fl.path, Size: fl.size.Load(), Read: fl.read.Load()})
	}
	return out
}

// Close stops following and closes every file. It is idempotent; when it
// returns, every goroutine the Follower started has ended. A Next blocked
// in another goroutine returns ErrClosed.
func (f *Follower) Close() error {
	f.once.Do(func() {
		f.cancel()
		close(f.done)
		f.wg.Wait()
		if f.ticker != nil {
			f.ticker.Stop()
		}
		if f.watcher != nil {
			f.watcher.Close()
		}
		// Wait for a Next in progress: it still reads its file.
		f.nextMu.Lock()
		defer f.nextMu.Unlock()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.closed = true
		for _, fl := range f.files {
			fl.close()
		}
		f.files = map[devIno]*file{}
		f.byName = map[string]*file{}
		f.ready = nil
	})
	return nil
}

// Next returns the next line of any followed file, waiting until one is
// complete or ctx ends. Lines of one file come in order; files interleave.
// Line.Text is valid until the next call. A Line with Done set ends a file.
// Next is meant for one goroutine; a second caller waits for the first.
func (f *Follower) Next(ctx context.Context) (Line, error) {
	return f.next(ctx, true)
}

func (f *Follower) next(ctx context.Context, wait bool) (Line, error) {
	l, err := f.nextLine(ctx, wait)
	// Loaded after the line is read: a file found since then lowered it
	// already, and one found later holds nothing this line could cover.
	l.horizon = f.horizon.Load()
	return l, err
}

func (f *Follower) nextLine(ctx context.Context, wait bool) (Line, error) {
	f.nextMu.Lock()
	defer f.nextMu.Unlock()
	for {
		select {
		case <-f.done:
			return Line{}, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return Line{}, err
		}
		if fl := f.cur; fl != nil {
			if f.budget <= 0 {
				f.release(fl, false)
				continue
			}
			f.budget--
			l, err := fl.lr.Next()
			if err == nil {
				fl.read.Store(l.End)
				if l.Truncated {
					f.stats.LinesCut.Add(1)
					f.log.Warn("line longer than max_line_bytes cut", "path", f.curPath, "offset", l.Offset, "length", l.End-l.Offset, "max_line_bytes", f.maxLine)
				}
				l.Key, l.Path, l.id = f.curID.key, f.curPath, f.curID
				return l, nil
			}
			switch {
			case err == io.EOF || errors.Is(err, ErrIncomplete):
				fl.read.Store(fl.lr.Offset() + fl.lr.Pending())
				if f.curFinish {
					if err != io.EOF {
						// Nobody will finish this line: hand it over as it
						// is, for the parser to reject out loud.
						fl.lr.setFinal()
						continue
					}
					return f.letGo(fl, nil), nil
				}
				f.release(fl, true)
			default:
				return f.letGo(fl, err), nil
			}
			continue
		}
		if l, ok := f.pick(); ok {
			return l, nil
		}
		if f.cur != nil {
			continue
		}
		if !wait {
			return Line{}, errNoLine
		}
		select {
		case <-f.wake:
		case <-ctx.Done():
			return Line{}, ctx.Err()
		case <-f.done:
			return Line{}, ErrClosed
		}
	}
}

// pick makes the first queued file current, or returns a Done line that
// must go out first.
func (f *Follower) pick() (Line, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) > 0 {
		l := f.events[0]
		f.events = f.events[1:]
		return l, true
	}
	for len(f.ready) > 0 {
		fl := f.ready[0]
		f.ready[0] = nil
		f.ready = f.ready[1:]
		fl.queued = false
		if f.files[fl.at()] != fl {
			continue // let go while queued
		}
		if !fl.final && !fl.truncated {
			// A shrink seen now rather than at the next poll saves reading
			// the rewritten file from the wrong offset.
			if fi, err := fl.fd.Stat(); err == nil && fi.Size() < fl.read.Load() {
				fl.truncated = true
				fl.truncSize = max(fl.lastSize, fl.read.Load())
			}
		}
		if fl.truncated {
			fl.truncated = false
			l := f.restart(fl)
			f.queue(fl)
			if l.Done {
				return l, true
			}
			continue
		}
		f.cur, f.curID, f.curPath, f.curFinish, f.budget = fl, fl.id, fl.path, fl.finish, pickBudget
		f.curPicked = f.now()
		if fl.zr == nil {
			f.br.Reset(fl.fd)
			fl.lr.r = f.br
		}
		return Line{}, false
	}
	return Line{}, false
}

// release puts the current file down: caught up, or its budget spent.
func (f *Follower) release(fl *file, caughtUp bool) {
	f.cur = nil
	if fl.zr == nil {
		if n := f.br.Buffered(); n > 0 {
			// The shared buffer read ahead; give those bytes back to the
			// file so the next pick reads them again.
			if _, err := fl.fd.Seek(-int64(n), io.SeekCurrent); err != nil {
				f.log.Error("seek back in followed file", "path", f.curPath, "err", err)
			}
		}
		fl.lr.r = nil
		f.br.Reset(nil)
	}
	var newID *identity
	truncated := false
	if caughtUp && !fl.final && f.curID.fp.n < FingerprintMax && fl.read.Load() > int64(f.curID.fp.n) {
		// The file has grown past its fingerprint: widen it, so it can be
		// recognised once rotated or compressed.
		head, err := readHeadAt(fl.fd, fl.read.Load())
		switch {
		case err != nil:
		case !f.curID.fp.matches(head):
			truncated = true
		default:
			id := *f.curID
			id.fp = fingerprintOf(head)
			newID = &id
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if newID != nil {
		fl.id = newID
	}
	if truncated {
		fl.truncated = true
		fl.truncSize = max(fl.lastSize, fl.read.Load())
	}
	if caughtUp && !truncated && fl.lr.Pending() == 0 {
		// Read to its end: what it holds next was written after the pick.
		// The horizon rises at the next sync.
		fl.since = latest(fl.since, f.curPicked)
	}
	if caughtUp && fl.gone && !fl.finish && f.now().Sub(fl.lastGrowth) >= f.rotateWait {
		// Rotated, quiet long enough and read to its end: no need to wait
		// for the next poll to let it go.
		fl.finish = true
		caughtUp = false
	}
	if !caughtUp || truncated {
		f.queue(fl)
	}
}

// letGo ends a file for good, after its last line; err is why reading
// stopped early, if it did.
func (f *Follower) letGo(fl *file, err error) Line {
	f.cur = nil
	off := fl.lr.Offset()
	if err != nil {
		lost := fl.size.Load() - off
		if fl.zr != nil {
			lost = 0 // not knowable without decompressing the rest
		}
		f.stats.BytesSkipped.Add(max(lost, 0))
		f.log.Error("stopped reading a file early; the rest of it is skipped", "path", f.curPath, "key", f.curID.key, "offset", off, "bytes_skipped", max(lost, 0), "err", err)
	}
	var fp fingerprint
	if err == nil {
		fp = contentFP(fl)
	}
	f.mu.Lock()
	f.remove(fl)
	if err == nil {
		// A copy of it (compressed later, say) is not a file never read.
		f.doneFP.add(fp)
	}
	f.mu.Unlock()
	fl.close()
	f.stats.FilesClosed.Add(1)
	f.log.Info("finished file", "path", f.curPath, "key", f.curID.key, "offset", off)
	return Line{Done: true, Key: f.curID.key, Path: f.curPath, Offset: off, End: off, id: f.curID}
}

// queue marks fl as having something to read. Called with f.mu held.
func (f *Follower) queue(fl *file) {
	if fl.queued {
		return
	}
	fl.queued = true
	f.ready = append(f.ready, fl)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (fl *file) at() devIno {
	return fl.fdID
}

func (fl *file) close() {
	if fl.zr != nil {
		fl.zr.Close()
	}
	fl.fd.Close()
}

// retire remembers a key so it is not issued again. Called with f.mu held.
func (f *Follower) retire(k FileKey) {
	delete(f.inUse, k)
	if f.retired[k] {
		return
	}
	f.retired[k] = true
	f.retiredFIF = append(f.retiredFIF, k)
	if len(f.retiredFIF) > retiredMax {
		delete(f.retired, f.retiredFIF[0])
		f.retiredFIF = f.retiredFIF[1:]
	}
}

// newKey issues a key for a file, unique among the keys in use and those
// recently let go. Called with f.mu held.
func (f *Follower) newKey(id devIno, fp fingerprint) FileKey {
	base := baseKey(id, fp)
	k := base
	for n := 2; f.inUse[k] || f.retired[k]; n++ {
		k = FileKey(fmt.Sprintf("%s#%d", base, n))
	}
	f.inUse[k] = true
	return k
}
