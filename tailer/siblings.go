package tailer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// rotatedMargin is taken off the horizon before it is compared with
// modification times: it covers the coarse clock the kernel stamps mtimes
// with and a little clock skew with a file server. It must stay below
// RotateWait, so a file let go (quiet for RotateWait) and dropped from the
// positions is not read again for nothing at the next start.
const rotatedMargin = 2 * time.Second

// siblingState is what a rotated sibling looked like when it was last
// judged; while it looks the same, it is not opened again.
type siblingState struct {
	id    devIno
	size  int64
	mtime int64
}

// scanRotated looks at the rotated siblings of the followed and known files
// (app.log.1, app.log.2.gz, app.log-20261123, 0.log.20240101-120000): files
// in the same directories named like a rotation of a glob match, of a
// known file or of a symlink target. One that no followed file, no file let
// go and no known position accounts for, and that was modified at or after
// rotatedSince, holds lines nobody has read: a file created and rotated away
// while the daemon was down, or before a sync saw it. It is read from its
// start under a new key (reading lines already written again is harmless:
// writes are idempotent; skipping them is not). Called with f.mu held.
func (f *Follower) scanRotated(startup bool) {
	now := f.now()
	dirs, bases := f.rotationScope()
	seen := make(map[string]siblingState, len(f.siblings))
	f.undecided = time.Time{}
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.Type().IsRegular() || !f.isRotation(d, e.Name(), bases) {
				continue
			}
			p := filepath.Join(d, e.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			id, _ := fileID(fi)
			st := siblingState{id: id, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
			if f.siblings[p] == st || f.examineRotated(p, fi, id, startup, now) {
				seen[p] = st
			}
		}
	}
	// Forgetting the files no longer there keeps the map the size of the
	// directories' rotations.
	f.siblings = seen
}

// rotationScope returns the directories to look in, and the paths (besides
// glob matches) whose rotations count: known files and symlink targets.
// Called with f.mu held.
func (f *Follower) rotationScope() ([]string, map[string]bool) {
	var dirs []string
	addDir := func(d string) {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	bases := map[string]bool{}
	for _, g := range f.globs {
		if d := filepath.Dir(g); !hasMeta(d) {
			addDir(d)
		}
	}
	for p := range f.knownBases {
		addDir(filepath.Dir(p))
		bases[p] = true
	}
	for _, fl := range f.files {
		addDir(filepath.Dir(fl.path))
		if fl.id.real != "" {
			addDir(filepath.Dir(fl.id.real))
			bases[fl.id.real] = true
		}
	}
	return dirs, bases
}

// isRotation says whether name, in dir, is named like a rotation of a glob
// match or of one of bases.
func (f *Follower) isRotation(dir, name string, bases map[string]bool) bool {
	for _, b := range rotationBases(name) {
		p := filepath.Join(dir, b)
		if bases[p] {
			return true
		}
		for _, g := range f.globs {
			if ok, _ := filepath.Match(g, p); ok {
				return true
			}
		}
	}
	return false
}

// rotationBases returns the names name may be a rotation of: without its
// compression extension, and without a trailing rotation tag made of digits
// and separators (".1", "-20261123", ".20240101-120000"), longest first.
func rotationBases(name string) []string {
	var out []string
	s := name
	for _, ext := range compressedExt {
		if len(s) > len(ext) && strings.EqualFold(s[len(s)-len(ext):], ext) {
			s = s[:len(s)-len(ext)]
			out = append(out, s)
			break
		}
	}
	digit := false
	for i := len(s) - 1; i > 0; i-- {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '.' || c == '-' || c == '_':
			if digit {
				out = append(out, s[:i])
			}
		default:
			return out
		}
	}
	return out
}

// examineRotated decides about one rotated sibling, and opens it when it
// holds lines nobody has read. It says whether that decision holds until
// the file changes; false means look again at the next sync. Called with
// f.mu held.
func (f *Follower) examineRotated(p string, fi os.FileInfo, id devIno, startup bool, now time.Time) bool {
	if f.files[id] != nil {
		return true // followed
	}
	compressed := isCompressedName(p)
	if r, ok := f.gone[id]; ok && !compressed {
		if head, err := plainHead(p); err == nil && r.fp.matches(head) {
			if fi.Size() > r.offset {
				// Its writer kept it open past RotateWait: read what it
				// added since it was let go.
				f.openSibling(p, id, false, head, r.offset, now, "rotated file written again after it was let go; reading what is new")
			}
			return true
		}
		// Another file on a reused inode: judged below.
	}
	// A gzip file's own mtime is when it was compressed, which logrotate
	// may do a rotation later; its header keeps the source's mtime when the
	// compressor recorded one (zero otherwise: then the file's is used).
	var head []byte
	gz, complete := false, true
	mtime := fi.ModTime()
	if isGzipName(p) {
		var hdr time.Time
		var err error
		head, gz, complete, hdr, err = siblingHead(p)
		if err != nil {
			return false
		}
		if gz && !hdr.IsZero() {
			mtime = hdr
		}
	}
	if mtime.Before(f.rotatedSince) {
		// Not modified since the horizon: whatever it holds was read and
		// acknowledged before the positions were saved, or is history.
		return true
	}
	if startup && f.firstStart {
		// No positions were ever saved: rotated files are history. One
		// that is still written to is followed from its end from now on.
		if !compressed {
			if fd, err := os.Open(p); err == nil {
				if h, err := readHead(fd); err == nil && !bytes.HasPrefix(h, gzipMagic) {
					f.rememberGone(id, fingerprintOf(h), lastLineEnd(fd, fi.Size()))
				}
				fd.Close()
			}
		}
		return true
	}
	if head == nil {
		var err error
		head, gz, complete, _, err = siblingHead(p)
		if err != nil {
			return false
		}
	}
	if !complete {
		// A compressor is still writing it: look again later.
		f.undecided = earliest(f.undecided, mtime)
		return false
	}
	switch f.knownContent(head) {
	case contentKnown:
		return true // a copy of a followed file or of one read to its end
	case contentMaybe:
		f.undecided = earliest(f.undecided, mtime)
		return false
	}
	if compressed && !gz {
		f.log.Warn("rotated file no position covers, compressed other than with gzip: not read; lines in it nobody read are lost", "path", p)
		return true
	}
	f.openSibling(p, id, gz, head, 0, now, "rotated file no position covers, modified since the last save; reading it from its start")
	return true
}

// openSibling follows a rotated sibling under a new key, from offset.
// Called with f.mu held.
func (f *Follower) openSibling(p string, id devIno, gz bool, head []byte, offset int64, now time.Time, how string) {
	ident := &identity{id: id, fp: fingerprintOf(head)}
	ident.key = f.newKey(id, ident.fp)
	class := 1 // plain: it may still be written to, let go after RotateWait
	if gz {
		class = 3
	}
	if !f.openRotated(candidate{path: p, class: class}, ident, offset, now, how) {
		delete(f.inUse, ident.key)
	}
}

// contentKind is what knownContent makes of a file's first bytes.
type contentKind int

const (
	contentUnknown contentKind = iota // lines nobody read: read it
	contentKnown                      // a copy of what is or was followed
	contentMaybe                      // too early to tell: look again later
)

// knownContent says whether a file starting with head is a copy of a
// followed file or of one read to its end. A fingerprint shorter than
// FingerprintMax only vouches for a file no longer than it: a longer one
// may be another file that starts alike (a header line). For a followed
// file that is decided later (its fingerprint widens as it grows, or, if
// it was truncated, the copy is claimed by restart); for a file let go it
// cannot be, and the file is read: twice is harmless, never is not.
// Called with f.mu held.
func (f *Follower) knownContent(head []byte) contentKind {
	kind := contentUnknown
	for _, fl := range f.files {
		fp := fl.id.fp
		if fp.n < FingerprintMin || !fp.matches(head) {
			continue
		}
		if fp.n == FingerprintMax || fp.n == len(head) {
			return contentKnown
		}
		kind = contentMaybe
	}
	if f.doneFP.has(head) {
		return contentKnown
	}
	return kind
}

// contentFP is the fingerprint of a file's own first bytes, decompressed
// for gzip: a file finished under an older identity (a copy, resumed) may
// hold more than that identity's fingerprint covers. Zero when unreadable.
func contentFP(fl *file) fingerprint {
	fi, err := fl.fd.Stat()
	if err != nil {
		return fingerprint{}
	}
	var r io.Reader = io.NewSectionReader(fl.fd, 0, fi.Size())
	if fl.zr != nil {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return fingerprint{}
		}
		defer zr.Close()
		r = zr
	}
	head, err := readHead(r)
	if err != nil {
		return fingerprint{}
	}
	return fingerprintOf(head)
}

// rememberGone remembers a file let go, by identity, with the offset it
// would resume at if it came back or grew. Called with f.mu held.
func (f *Follower) rememberGone(id devIno, fp fingerprint, off int64) {
	if _, ok := f.gone[id]; !ok {
		f.goneFIF = append(f.goneFIF, id)
		if len(f.goneFIF) > retiredMax {
			delete(f.gone, f.goneFIF[0])
			f.goneFIF = f.goneFIF[1:]
		}
	}
	f.gone[id] = retiredFile{fp: fp, offset: off}
}

func plainHead(path string) ([]byte, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	return readHead(fd)
}

// isGzipName says whether a name ends in .gz.
func isGzipName(name string) bool {
	return len(name) > 3 && strings.EqualFold(name[len(name)-3:], ".gz")
}

// siblingHead returns the first bytes of a file, decompressed when it is
// gzip (with the mtime its header records), and whether they are all
// there: a gzip stream that ends early is still being written (or broken),
// and cannot be judged by its head yet.
func siblingHead(path string) (head []byte, gz, complete bool, mtime time.Time, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, false, false, time.Time{}, err
	}
	defer fd.Close()
	br := bufio.NewReaderSize(fd, 4096)
	if magic, err := br.Peek(2); err != nil || !bytes.Equal(magic, gzipMagic) {
		head, err := readHead(br)
		return head, false, err == nil, time.Time{}, err
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, true, false, time.Time{}, nil
	}
	defer zr.Close()
	mtime = zr.Header.ModTime
	buf := make([]byte, FingerprintMax)
	n, err := io.ReadFull(zr, buf)
	switch {
	case err == nil || err == io.EOF:
		return buf[:n], true, true, mtime, nil
	case errors.Is(err, io.ErrUnexpectedEOF) && n < FingerprintMax:
		// Either a short file, complete, or a stream cut short: only
		// reading on tells.
		_, err = io.Copy(io.Discard, zr)
		return buf[:n], true, err == nil, mtime, nil
	}
	return nil, true, false, mtime, nil
}

// fpSet remembers fingerprints, the oldest forgotten past a bound.
type fpSet struct {
	max  int
	byN  map[int]map[string]bool
	fifo []fingerprint
}

func newFPSet(limit int) fpSet { return fpSet{max: limit, byN: map[int]map[string]bool{}} }

func (s *fpSet) add(fp fingerprint) {
	if fp.n < FingerprintMin || s.byN[fp.n][fp.sum] {
		return
	}
	if s.byN[fp.n] == nil {
		s.byN[fp.n] = map[string]bool{}
	}
	s.byN[fp.n][fp.sum] = true
	s.fifo = append(s.fifo, fp)
	if len(s.fifo) > s.max {
		old := s.fifo[0]
		s.fifo = s.fifo[1:]
		delete(s.byN[old.n], old.sum)
	}
}

// has says whether head is the start of a remembered file: its full
// fingerprint, or all of it (see knownContent).
func (s *fpSet) has(head []byte) bool {
	for _, n := range []int{FingerprintMax, len(head)} {
		if n > len(head) || n < FingerprintMin || len(s.byN[n]) == 0 {
			continue
		}
		sum := sha256.Sum256(head[:n])
		if s.byN[n][hex.EncodeToString(sum[:8])] {
			return true
		}
		if n == len(head) {
			break
		}
	}
	return false
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
