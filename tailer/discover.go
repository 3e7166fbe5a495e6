package tailer

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// loop is the Follower's one goroutine: it turns change events and poll
// ticks into queued files, and finds files that appear or move. It never
// reads lines; Next does.
func (f *Follower) loop(ctx context.Context) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if f.watcher != nil {
		events, errs = f.watcher.Events, f.watcher.Errors
	}
	for {
		need := false
		select {
		case <-ctx.Done():
			return
		case <-f.tick:
			need = true
		case <-f.syncReq:
			need = true
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Most likely a queue overflow: events were lost, so look at
			// everything.
			f.log.Warn("file change events lost; looking at every file", "err", err)
			need = true
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			need = f.onEvent(ev)
			// Take what else is queued before a sync, so a burst of
			// events costs one.
			for i := 0; i < 256; i++ {
				select {
				case ev, ok := <-events:
					if ok && f.onEvent(ev) {
						need = true
					}
					continue
				default:
				}
				break
			}
		}
		if need {
			f.mu.Lock()
			if !f.closed {
				f.sync(false)
			}
			f.mu.Unlock()
		}
	}
}

// onEvent queues the file a write event names, and says whether the event
// calls for a sync: a name created, removed or renamed that matters.
func (f *Follower) onEvent(ev fsnotify.Event) bool {
	f.mu.Lock()
	fl := f.byName[ev.Name]
	if fl != nil && ev.Has(fsnotify.Write) {
		f.queue(fl)
		f.mu.Unlock()
		return false
	}
	// A file that could not be opened may be readable now: try it at once
	// rather than at the next poll.
	failed := f.failed[ev.Name]
	f.mu.Unlock()
	if ev.Op == fsnotify.Chmod {
		return failed
	}
	if fl != nil {
		return true
	}
	for _, g := range f.globs {
		if ok, _ := filepath.Match(g, ev.Name); ok {
			return true
		}
		// A new directory on the way to a deeper match.
		if ev.Has(fsnotify.Create) && hasMeta(filepath.Dir(g)) {
			return true
		}
	}
	return false
}

func hasMeta(path string) bool { return strings.ContainsAny(path, `*?[\`) }

// staticDir is the deepest directory of a glob without wildcards: the one
// to watch for new matches.
func staticDir(glob string) string {
	dir := filepath.Dir(glob)
	for hasMeta(dir) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// sync looks at every glob match and every followed file: new files are
// opened, files that left their path are marked gone, grown files queued,
// shrunk ones marked truncated, and gone files idle for RotateWait let go.
// It stats, it does not read. Called with f.mu held.
func (f *Follower) sync(startup bool) {
	now := f.now()
	seen := make(map[*file]bool, len(f.files))
	for _, g := range f.globs {
		matches, _ := filepath.Glob(g)
		for _, m := range matches {
			if isCompressedName(m) {
				continue
			}
			fi, err := os.Stat(m)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			id, _ := fileID(fi)
			fl := f.files[id]
			if fl == nil {
				fl = f.open(m, startup, now)
				if fl == nil {
					continue
				}
			} else if !seen[fl] {
				f.observe(fl, fi.Size(), now)
			}
			f.atPath(fl, m, seen[fl])
			seen[fl] = true
		}
	}
	for _, fl := range f.files {
		if seen[fl] || fl.final {
			continue
		}
		if !fl.gone {
			f.markGone(fl, now)
		}
		if fi, err := fl.fd.Stat(); err == nil {
			f.observe(fl, fi.Size(), now)
		}
		if !fl.finish && fl.read.Load() >= fl.lastSize && now.Sub(fl.lastGrowth) >= f.rotateWait {
			fl.finish = true
			f.queue(fl)
		}
	}
	for p := range f.failed {
		if _, err := os.Lstat(p); err != nil {
			delete(f.failed, p) // gone: if it comes back, say so again
		}
	}
	if !startup {
		// At startup Follow does this once the known files are claimed.
		f.scanRotated(false)
		f.updateHorizon(now)
	}
	f.updateWatches()
}

// updateHorizon recomputes the horizon: the earliest since of the files
// followed and mtime of the rotated siblings undecided, and no later than
// now, the start of this sync (a file that appears after it is found by the
// next one, and is modified after it).
// Called with f.mu held.
func (f *Follower) updateHorizon(now time.Time) {
	h := now
	if !f.undecided.IsZero() {
		h = earliest(h, f.undecided)
	}
	for _, fl := range f.files {
		if fl.since.Before(h) {
			h = fl.since
		}
	}
	f.horizon.Store(h.UnixNano())
}

// lowerHorizon makes the horizon no later than t, at once: a file with
// lines to read has been found. Called with f.mu held.
func (f *Follower) lowerHorizon(t time.Time) {
	if n := t.UnixNano(); n < f.horizon.Load() {
		f.horizon.Store(n)
	}
}

// atPath records that fl was found at path m (again). also says the file
// was already seen under another name in this sync.
func (f *Follower) atPath(fl *file, m string, also bool) {
	if f.byName[m] != fl {
		f.byName[m] = fl
		fl.names = append(fl.names, m)
	}
	if also || fl.path == m && !fl.gone {
		return
	}
	if fl.gone {
		// Back under a followed name (renamed to another match): a live
		// file again.
		fl.gone, fl.finish = false, false
	}
	fl.path = m
}

// observe compares a file's size with what has been read of it. Called with
// f.mu held.
func (f *Follower) observe(fl *file, size int64, now time.Time) {
	read := fl.read.Load()
	if size < read {
		// size may come from a stat taken before the reader (which does
		// not hold f.mu) read past it: only a size taken after read was
		// loaded can say the file shrank.
		if fi, err := fl.fd.Stat(); err == nil {
			size = fi.Size()
		}
	}
	grew := size != fl.lastSize
	if grew {
		fl.lastGrowth = now
	}
	switch {
	case size < read:
		fl.truncated = true
		fl.truncSize = max(fl.lastSize, read)
		f.queue(fl)
	case grew && fl.id.fp.n > 0:
		// A file rewritten from the start (copytruncate, then more lines
		// than before by the time we look) does not shrink; its first
		// bytes change.
		head, err := readHeadAt(fl.fd, int64(fl.id.fp.n))
		if err == nil && !fl.id.fp.matches(head) {
			fl.truncated = true
			fl.truncSize = max(fl.lastSize, read)
			f.queue(fl)
			break
		}
		fallthrough
	default:
		if size > read {
			f.queue(fl)
		}
	}
	fl.lastSize = size
	fl.size.Store(size)
}

// markGone notes that fl is no longer at any followed path, and looks for
// its new name. Called with f.mu held.
func (f *Follower) markGone(fl *file, now time.Time) {
	fl.gone = true
	fl.lastGrowth = now // RotateWait counts from here
	f.stats.Rotations.Add(1)
	old := fl.path
	how := "removed"
	if fi, err := fl.fd.Stat(); err == nil && !unlinked(fi) {
		how = "rotated"
		if p := findByID(fl.fdID, dirsOf(fl.path, fl.id.real)); p != "" {
			fl.path = p
			if f.byName[p] == nil {
				f.byName[p] = fl
				fl.names = append(fl.names, p)
			}
		}
	}
	f.log.Info("file "+how+"; reading it to its end", "path", old, "now", fl.path, "key", fl.id.key)
}

func dirsOf(paths ...string) []string {
	var dirs []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if d := filepath.Dir(p); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// findByID returns the name a file of that device and inode has in one of
// dirs, or "".
func findByID(id devIno, dirs []string) string {
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(d, e.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			if got, _ := fileID(fi); got == id {
				return p
			}
		}
	}
	return ""
}

// open starts following the file at path m, found by a glob. Called with
// f.mu held.
func (f *Follower) open(m string, startup bool, now time.Time) *file {
	fd, err := os.Open(m)
	if err != nil {
		// Said once, not at every poll; said again once it has worked.
		if !f.failed[m] {
			f.failed[m] = true
			f.log.Warn("cannot open file to follow; trying again at each poll", "path", m, "err", err)
		}
		return nil
	}
	delete(f.failed, m)
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil
	}
	id, _ := fileID(fi)
	if fl := f.files[id]; fl != nil {
		// Replaced between the stat and the open: the file is known.
		fd.Close()
		return fl
	}
	size := fi.Size()
	head, err := readHeadAt(fd, size)
	if err != nil {
		fd.Close()
		f.log.Warn("cannot read file to follow", "path", m, "err", err)
		return nil
	}
	fp := fingerprintOf(head)
	real := ""
	if lfi, err := os.Lstat(m); err == nil && lfi.Mode()&os.ModeSymlink != 0 {
		real, _ = filepath.EvalSymlinks(m)
	}
	fl := &file{fd: fd, fdID: id, path: m, lastSize: size, lastGrowth: now}
	ident := &identity{id: id, fp: fp, real: real}
	var offset int64
	how := "new file, from its start"
	if k, ok := f.claimKnown(id, head, size); ok {
		ident.key, ident.fp, offset = k.Key, k.fingerprint(), k.Offset
		f.inUse[k.Key] = true
		how = "resumed"
		if !ident.fp.matches(head) || size < k.Offset {
			// Truncated or rewritten while we were away: Next lets the
			// old content go (finishing it from a copy if there is one)
			// and reads this one from its start.
			fl.truncated, fl.truncSize = true, k.Offset
			how = "resumed, truncated since"
		}
	} else {
		ident.key = f.newKey(id, fp)
		if r, ok := f.gone[id]; ok && r.fp.matches(head) && size >= r.offset {
			offset = r.offset
			how = "came back, resumed"
		} else if startup && f.startAtEnd && !f.knownPaths[m] && (f.firstStart || fi.ModTime().Before(f.rotatedSince)) {
			// Not when it was modified since the saved horizon: what it
			// holds may have been written while we were away, and is new.
			offset = lastLineEnd(fd, size)
			how = "new file, from its end"
		}
	}
	if _, err := fd.Seek(offset, io.SeekStart); err != nil {
		fd.Close()
		f.log.Warn("cannot seek in file to follow", "path", m, "err", err)
		return nil
	}
	fl.id = ident
	fl.lr = newLineReaderBuf(nil, offset, f.maxLine, false)
	fl.read.Store(offset)
	fl.size.Store(size)
	fl.since = now
	if size > offset || fl.truncated {
		fl.since = earliest(now, fi.ModTime())
		f.lowerHorizon(fl.since)
	}
	f.files[id] = fl
	if real != "" {
		f.byName[real] = fl
		fl.names = append(fl.names, real)
	}
	f.stats.FilesOpened.Add(1)
	f.log.Info("following file", "path", m, "key", ident.key, "offset", offset, "how", how)
	if size > offset || fl.truncated {
		f.queue(fl)
	}
	return fl
}

// claimKnown finds the saved position of the file with this identity and
// head, at startup. Called with f.mu held.
func (f *Follower) claimKnown(id devIno, head []byte, size int64) (Position, bool) {
	ps := f.knownByID[id]
	if len(ps) == 0 {
		return Position{}, false
	}
	pick := 0
	for i, p := range ps {
		if p.fingerprint().matches(head) && size >= p.Offset {
			pick = i
			break
		}
	}
	p := ps[pick]
	ps = slices.Delete(ps, pick, pick+1)
	if len(ps) == 0 {
		delete(f.knownByID, id)
	} else {
		f.knownByID[id] = ps
	}
	return p, true
}

// resumeUnmatched looks for the known files no glob found, among the
// siblings of where they were: renamed, copied or compressed while we were
// away. Those found are finished from their saved offset; the others are
// reported missed. Called with f.mu held, at startup.
func (f *Follower) resumeUnmatched() {
	var left []Position
	for _, ps := range f.knownByID {
		left = append(left, ps...)
	}
	f.knownByID = nil
	slices.SortFunc(left, func(a, b Position) int { return strings.Compare(string(a.Key), string(b.Key)) })
	now := f.now()
	for _, p := range left {
		c, ok := f.findRotated(p.Key, p.devIno(), p.fingerprint(), p.Offset, dirsOf(p.Path, p.RealPath))
		ident := &identity{key: p.Key, id: p.devIno(), fp: p.fingerprint(), real: p.RealPath}
		if ok && f.openRotated(c, ident, p.Offset, now, "finishing rotated file") {
			continue
		}
		f.stats.FilesMissed.Add(1)
		f.log.Warn("known file not found: rotated away unread; lines written after its saved offset are lost", "path", p.Path, "key", p.Key, "offset", p.Offset)
		f.events = append(f.events, Line{Done: true, Key: p.Key, Path: p.Path, Offset: p.Offset, End: p.Offset, id: ident})
	}
	if len(f.events) > 0 {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// candidate is a rotated file found by findRotated.
type candidate struct {
	path  string
	class int // 1 same inode, 2 plain copy, 3 compressed
}

// findRotated looks in dirs for the file a key was given to: the same inode
// under another name; else, when the fingerprint is long enough to trust,
// a plain copy or a gzip file whose content starts the same. It must hold
// at least minSize bytes. Called with f.mu held.
func (f *Follower) findRotated(key FileKey, id devIno, fp fingerprint, minSize int64, dirs []string) (candidate, bool) {
	var found []candidate
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			p := filepath.Join(d, e.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			cid, _ := fileID(fi)
			if f.files[cid] != nil {
				continue // followed already, under its own key
			}
			if cid == id {
				if fi.Size() >= minSize && matchesFile(p, fp) {
					return candidate{path: p, class: 1}, true
				}
				continue
			}
			if fp.n < FingerprintMin {
				continue
			}
			if head, gz, err := gzipHead(p); err == nil && gz {
				if fp.matches(head) {
					found = append(found, candidate{path: p, class: 3})
				}
				continue
			}
			if fi.Size() >= minSize && matchesFile(p, fp) {
				found = append(found, candidate{path: p, class: 2})
			}
		}
	}
	if len(found) == 0 {
		return candidate{}, false
	}
	// A plain copy beats the compressed one being made of it.
	slices.SortStableFunc(found, func(a, b candidate) int { return a.class - b.class })
	if len(found) > 1 && found[0].class == found[1].class {
		f.log.Warn("several rotated files start alike; finishing the first by name", "key", key, "path", found[0].path, "also", found[1].path)
	}
	return found[0], true
}

func matchesFile(path string, fp fingerprint) bool {
	fd, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fd.Close()
	head, err := readHead(fd)
	return err == nil && fp.matches(head)
}

// openRotated follows a rotated file found by findRotated under the
// identity it had, from offset; how is what the log says. Called with f.mu
// held.
func (f *Follower) openRotated(c candidate, ident *identity, offset int64, now time.Time, how string) bool {
	fd, err := os.Open(c.path)
	if err != nil {
		f.log.Warn("cannot open rotated file", "path", c.path, "err", err)
		return false
	}
	fi, err := fd.Stat()
	if err != nil {
		fd.Close()
		return false
	}
	cid, _ := fileID(fi)
	fl := &file{fd: fd, fdID: cid, path: c.path, id: ident, lastSize: fi.Size(), lastGrowth: now, gone: true, since: earliest(now, fi.ModTime())}
	switch c.class {
	case 1:
		// Renamed: its writer may still be adding to it; it is let go
		// after RotateWait of quiet, like any rotated file.
		fl.lr = newLineReaderBuf(nil, offset, f.maxLine, false)
		_, err = fd.Seek(offset, io.SeekStart)
	case 2:
		fl.final, fl.finish = true, true
		fl.lr = newLineReaderBuf(nil, offset, f.maxLine, true)
		_, err = fd.Seek(offset, io.SeekStart)
	case 3:
		fl.final, fl.finish = true, true
		fl.zr, err = gzip.NewReader(bufio.NewReaderSize(fd, 64<<10))
		if err == nil {
			fl.lr = NewLineReader(&skipReader{r: fl.zr, n: offset}, offset, f.maxLine, true)
		}
		fi = nil // its size says nothing of the content's
	}
	if err != nil {
		fd.Close()
		f.log.Warn("cannot read rotated file", "path", c.path, "err", err)
		return false
	}
	fl.read.Store(offset)
	fl.size.Store(offset)
	if fi != nil {
		fl.size.Store(fi.Size())
	}
	f.files[cid] = fl
	f.byName[c.path] = fl
	fl.names = append(fl.names, c.path)
	f.inUse[ident.key] = true
	f.stats.FilesOpened.Add(1)
	f.log.Info(how, "path", c.path, "key", ident.key, "offset", offset)
	f.lowerHorizon(fl.since)
	f.queue(fl)
	return true
}

// restart handles a truncated file: the content read so far is let go
// (finished from a copy when one is found next to it, as copytruncate
// leaves), and the file is read again from its start under a new key. It
// returns the Done line of the old content, unless a copy carries it on.
// Called by Next, with f.mu held.
func (f *Follower) restart(fl *file) Line {
	old := fl.id
	delivered := fl.lr.Offset()
	lostUpTo := max(fl.truncSize, fl.read.Load())
	f.stats.Truncations.Add(1)
	var done Line
	copied := false
	if c, ok := f.findRotated(old.key, devIno{}, old.fp, delivered, dirsOf(fl.path, old.real)); ok && c.class != 1 {
		if f.openRotated(c, old, delivered, f.now(), "finishing rotated file") {
			copied = true
			f.log.Warn("file truncated; finishing its old content from the copy", "path", fl.path, "copy", c.path, "key", old.key, "offset", delivered)
		}
	}
	if !copied {
		lost := max(lostUpTo-delivered, 0)
		f.stats.BytesSkipped.Add(lost)
		f.log.Warn("file truncated; lines after the last one read are lost (an estimate: more may have been written before the truncation)", "path", fl.path, "key", old.key, "offset", delivered, "bytes_skipped", lost)
		f.retire(old.key)
		done = Line{Done: true, Key: old.key, Path: fl.path, Offset: delivered, End: delivered, id: old}
	}
	var size int64
	if fi, err := fl.fd.Stat(); err == nil {
		size = fi.Size()
		// Rewritten: all of it is to be read, written up to its mtime.
		fl.since = earliest(fl.since, fi.ModTime())
		f.lowerHorizon(fl.since)
	}
	head, _ := readHeadAt(fl.fd, size)
	fl.gen++
	fl.id = &identity{id: fl.fdID, fp: fingerprintOf(head), real: old.real}
	fl.id.key = f.newKey(fl.fdID, fl.id.fp)
	if _, err := fl.fd.Seek(0, io.SeekStart); err != nil {
		f.log.Error("seek in truncated file", "path", fl.path, "err", err)
	}
	fl.lr = newLineReaderBuf(nil, 0, f.maxLine, false)
	fl.read.Store(0)
	fl.lastSize = size
	fl.size.Store(size)
	return done
}

// remove forgets a file let go, remembering its identity and offset in case
// it comes back under a followed name. Called with f.mu held.
func (f *Follower) remove(fl *file) {
	delete(f.files, fl.fdID)
	for _, n := range fl.names {
		if f.byName[n] == fl {
			delete(f.byName, n)
		}
	}
	f.retire(fl.id.key)
	if fl.zr != nil {
		return // compressed: never matched by a glob, never comes back
	}
	// Only a file that keeps a name is remembered: a deleted file's inode
	// can be reused by another file. And only when its fingerprint covers
	// what was read (or all it can), so a file that merely starts alike is
	// not skipped into.
	off := fl.lr.Offset()
	if fi, err := fl.fd.Stat(); err != nil || unlinked(fi) || int64(fl.id.fp.n) < min(off, FingerprintMax) {
		return
	}
	f.rememberGone(fl.fdID, fl.id.fp, off)
}

// updateWatches watches the directories globs can match in, and those of
// the files followed (a symlink's target, a rotated file's new name), for
// change events. A directory that cannot be watched yet (not there) is
// tried again at the next sync; polling covers it meanwhile. Called with
// f.mu held.
func (f *Follower) updateWatches() {
	if f.watcher == nil {
		return
	}
	want := map[string]bool{}
	for _, g := range f.globs {
		want[staticDir(g)] = true
		if d := filepath.Dir(g); !hasMeta(d) {
			want[d] = true
		}
	}
	for _, fl := range f.files {
		for _, d := range dirsOf(fl.path, fl.id.real) {
			want[d] = true
		}
	}
	for d := range want {
		if f.watched[d] {
			continue
		}
		if err := f.watcher.Add(d); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				f.log.Debug("cannot watch directory; polling it", "dir", d, "err", err)
			}
			continue
		}
		f.watched[d] = true
	}
	for d := range f.watched {
		if !want[d] {
			_ = f.watcher.Remove(d)
			delete(f.watched, d)
		}
	}
}
