package tailer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// file is one followed file. The fields under "owned by Next" are touched
// only by the goroutine calling Next; the ones under "guarded" only with
// Follower.mu held; the atomics by anyone.
type file struct {
	fd   *os.File
	fdID devIno // the identity of fd, its key in Follower.files; for a
	// compressed rotation not the identity its lines report

	// owned by Next
	lr    *LineReader
	zr    *gzip.Reader // set for a compressed rotation, which keeps its own buffer
	final bool         // a complete file (copy, compressed): read to its end, then let go

	// read is how far the file has been read (delivered lines and the
	// unfinished one); size is its size when last looked at. Both feed
	// readiness and the bytes-behind gauge.
	read atomic.Int64
	size atomic.Int64

	// guarded by Follower.mu
	id         *identity
	path       string
	names      []string // the names this file is known by in Follower.byName
	gone       bool     // no longer at a followed path: rotated, deleted, link swapped
	lastSize   int64
	lastGrowth time.Time
	queued     bool  // in Follower.ready
	truncated  bool  // shrank, or its first bytes changed: start over under a new key
	truncSize  int64 // its size before the truncation, for bytes skipped
	finish     bool  // read what is left, then let go
	gen        int   // truncations so far, to keep keys unique
	// since is a lower bound of the file's mtime once anything not yet
	// handed out is in it: its mtime when it was found with lines to read,
	// else when it was last picked and read to its end. The horizon is the
	// earliest since of the files followed.
	since time.Time
}

// compressedExt lists names the follower leaves to backfill: they are
// rotations, never live logs, and are read only to finish a file whose
// fingerprint they carry.
var compressedExt = []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".z"}

func isCompressedName(name string) bool {
	for _, ext := range compressedExt {
		if len(name) >= len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			return true
		}
	}
	return false
}

var gzipMagic = []byte{0x1f, 0x8b}

// gzipHead returns the first decompressed bytes of a gzip file (up to
// FingerprintMax), or ok false when it is not gzip.
func gzipHead(path string) (head []byte, ok bool, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer fd.Close()
	br := bufio.NewReaderSize(fd, 4096)
	magic, err := br.Peek(2)
	if err != nil || !bytes.Equal(magic, gzipMagic) {
		return nil, false, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, false, fmt.Errorf("gzip %s: %w", path, err)
	}
	defer zr.Close()
	head, err = readHead(zr)
	if err != nil {
		return nil, false, fmt.Errorf("gzip %s: %w", path, err)
	}
	return head, true, nil
}

// errShortFile says a file ended before the offset it was to be resumed at.
var errShortFile = errors.New("file is shorter than its saved offset")

// skipReader discards the first n bytes of r: a compressed file cannot seek
// to a saved offset, it has to be decompressed up to it. Done lazily, by
// Next, so a large rotation does not stall discovery.
type skipReader struct {
	r io.Reader
	n int64
}

func (s *skipReader) Read(p []byte) (int, error) {
	if s.n > 0 {
		m, err := io.CopyN(io.Discard, s.r, s.n)
		s.n -= m
		if err == io.EOF {
			return 0, errShortFile
		}
		if err != nil {
			return 0, err
		}
	}
	return s.r.Read(p)
}

// lastLineEnd is the offset just after the last newline in the final 64 KiB
// of a file of the given size, so starting at the end of a file never starts
// inside a line; it is size when none is found.
func lastLineEnd(fd *os.File, size int64) int64 {
	const window = 64 << 10
	from := max(size-window, 0)
	buf := make([]byte, size-from)
	n, _ := fd.ReadAt(buf, from)
	if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
		return from + int64(i) + 1
	}
	return size
}
