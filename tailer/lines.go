// Package tailer reads log files as lines that carry their exact byte
// offsets, so progress can be acknowledged line by line. It knows nothing of
// records: the pipeline decides what a line means.
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

// Line is one line of a file, without its newline.
type Line struct {
	Text   []byte // valid until the next call to Next
	Offset int64  // where the line starts
	End    int64  // just after its newline (or its last byte at end of file)
	// Truncated is set when the line was longer than the reader's limit:
	// Text holds its first bytes and the rest was skipped.
	Truncated bool

	// The fields below are set by a Follower; a LineReader leaves them zero.

	// Key is the identity of the file the line is from.
	Key FileKey
	// Path is the name the file is known by now: the glob match it was
	// found under, or its new name once rotated, when that is known.
	Path string
	// Done marks the end of a file, not a line: no more lines will come
	// with this Key. Text is empty and Offset and End are where reading
	// ended. Once every line before it is acknowledged, the file's position
	// can be dropped.
	Done bool

	id *identity
	// horizon is the Follower's horizon when the line was handed out, in
	// Unix nanoseconds: see Position.Horizon.
	horizon int64
}

// Position is the position to save once this line, and every line of its
// file before it, has been acknowledged. It is zero for a line that did not
// come from a Follower.
func (l *Line) Position() Position {
	if l.id == nil {
		return Position{}
	}
	var h time.Time
	if l.horizon != 0 {
		h = time.Unix(0, l.horizon).UTC()
	}
	return Position{
		Horizon:        h,
		Key:            l.Key,
		Path:           l.Path,
		RealPath:       l.id.real,
		Offset:         l.End,
		Dev:            l.id.id.dev,
		Inode:          l.id.id.ino,
		Fingerprint:    l.id.fp.sum,
		FingerprintLen: l.id.fp.n,
	}
}

// LineReader splits a stream into Lines. It never holds more than its limit
// of one line in memory, however long the line.
type LineReader struct {
	r      *bufio.Reader
	offset int64 // just after the last line returned
	max    int
	final  bool

	buf     []byte // the line being read, at most max+1 bytes
	pending int64  // bytes of the current line consumed so far
}

// NewLineReader reads r, whose first byte is at offset in its file. maxLine
// bounds a line (longer ones are cut and flagged). With final set, a last line
// without a newline is returned at end of stream (a complete file); otherwise
// Next reports ErrIncomplete and resumes the line on a later call, once its
// writer has finished it (a live file).
func NewLineReader(r io.Reader, offset int64, maxLine int, final bool) *LineReader {
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	return &LineReader{r: bufio.NewReaderSize(r, 256<<10), offset: offset, max: maxLine, final: final}
}

// newLineReaderBuf is NewLineReader reading through br, which the caller
// attaches to its source: a Follower shares one buffer among its files.
func newLineReaderBuf(br *bufio.Reader, offset int64, maxLine int, final bool) *LineReader {
	if maxLine <= 0 {
		maxLine = 1 << 20
	}
	return &LineReader{r: br, offset: offset, max: maxLine, final: final}
}

// setFinal makes the stream complete: at its end, an unfinished line is
// returned as it is instead of waiting for its newline (a rotated file
// nobody writes to any more).
func (l *LineReader) setFinal() { l.final = true }

// Offset is the position just after the last line returned.
func (l *LineReader) Offset() int64 { return l.offset }

// Pending is how many bytes of an unfinished line have been read past Offset.
func (l *LineReader) Pending() int64 { return l.pending }

// ErrIncomplete is returned at the end of a live stream that stops inside a
// line. Calling Next again after more data arrived continues that line.
var ErrIncomplete = errors.New("line not finished yet")

// Next returns the next line, io.EOF at the end of the stream, or
// ErrIncomplete when a live stream ends inside a line.
func (l *LineReader) Next() (Line, error) {
	if l.pending == 0 {
		l.buf = l.buf[:0]
	}
	hasNL := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		l.pending += int64(len(chunk))
		if room := l.max + 1 - len(l.buf); room > 0 {
			take := chunk
			if len(take) > room {
				take = take[:room]
			}
			l.buf = append(l.buf, take...)
		}
		if err == nil {
			hasNL = true
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			if l.pending == 0 {
				return Line{}, io.EOF
			}
			if !l.final {
				return Line{}, ErrIncomplete
			}
			break
		}
		return Line{}, err
	}
	start, n := l.offset, l.pending
	l.offset += n
	l.pending = 0
	content := n
	text := l.buf
	if hasNL {
		content--
		if int64(len(text)) == n {
			text = text[:len(text)-1]
		}
	}
	truncated := content > int64(l.max)
	if len(text) > l.max {
		text = text[:l.max]
	}
	if !truncated && len(text) > 0 && text[len(text)-1] == '\r' {
		text = text[:len(text)-1]
	}
	return Line{Text: text, Offset: start, End: start + n, Truncated: truncated}, nil
}

// OpenFile opens a file for one pass, decompressing gzip (by magic bytes, so
// a rotated file renamed without .gz is read too). When read is not nil, the
// bytes read from the file (compressed, for gzip) are added to it as they
// are read, for progress reports.
func OpenFile(path string, read *atomic.Int64) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var src io.Reader = f
	if read != nil {
		src = &countingReader{r: f, n: read}
	}
	br := bufio.NewReaderSize(src, 64<<10)
	magic, err := br.Peek(2)
	if err == nil && bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("gzip %s: %w", path, err)
		}
		return &gzipFile{Reader: zr, f: f}, nil
	}
	if strings.HasSuffix(path, ".gz") && err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &plainFile{Reader: br, f: f}, nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzipFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	return err
}

type plainFile struct {
	*bufio.Reader
	f *os.File
}

func (p *plainFile) Close() error { return p.f.Close() }
