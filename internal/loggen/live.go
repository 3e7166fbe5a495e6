package loggen

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Rotation is how live mode rotates a file that grew old or big.
type Rotation uint8

// The rotation modes, as logrotate names them.
const (
	RotateNone         Rotation = iota // never rotate
	RotateRename                       // rename app.log to app.log.1, start a new app.log
	RotateCopyTruncate                 // copy app.log to app.log.1, truncate app.log in place
)

// String returns "none", "rename" or "copytruncate".
func (r Rotation) String() string {
	switch r {
	case RotateRename:
		return "rename"
	case RotateCopyTruncate:
		return "copytruncate"
	}
	return "none"
}

// ParseRotation reads "none", "rename" or "copytruncate".
func ParseRotation(s string) (Rotation, error) {
	switch s {
	case "", "none":
		return RotateNone, nil
	case "rename", "create":
		return RotateRename, nil
	case "copytruncate":
		return RotateCopyTruncate, nil
	}
	return 0, fmt.Errorf("unknown rotation %q (want none, rename or copytruncate)", s)
}

// LiveOptions describe a live run: entries appended at a rate to one or
// more files, rotated like logrotate does, until a duration, a record count
// or the context ends it.
type LiveOptions struct {
	// Options are the generator's. Now defaults to the wall clock.
	Options

	Dir   string // where the files are written; must exist
	Name  string // base name: "app" gives app.log, or app-00.log... when Files > 1
	Files int    // how many files entries are spread over, round-robin; 0 means 1

	// Rate is entries per second over all files; 0 writes as fast as possible.
	Rate float64
	// Duration stops the run after this long; 0 means no limit.
	Duration time.Duration
	// Records stops the run after this many record lines (valid or
	// malformed); 0 means no limit.
	Records int

	Rotate      Rotation
	RotateBytes int64         // rotate a file once it holds this many bytes; 0: never by size
	RotateEvery time.Duration // rotate a file this long after it was started; 0: never by age
	// Keep is how many rotated files are kept (app.log.1 ... app.log.Keep);
	// older ones are deleted. 0 keeps them all.
	Keep int
	// Compress gzips rotated files (app.log.1.gz), as logrotate's compress does.
	Compress bool

	// SplitWrites is the fraction of entries written in two write() calls,
	// SplitPause apart, so that a reader sees half a line for a moment.
	SplitWrites float64
	SplitPause  time.Duration
}

// Paths returns the paths of the live files o writes.
func (o LiveOptions) Paths() []string {
	name := o.Name
	if name == "" {
		name = "app"
	}
	n := max(o.Files, 1)
	if n == 1 {
		return []string{filepath.Join(o.Dir, name+".log")}
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = filepath.Join(o.Dir, fmt.Sprintf("%s-%02d.log", name, i))
	}
	return paths
}

// Validate reports every problem with o.
func (o LiveOptions) Validate() error {
	var errs []error
	if err := o.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Dir == "" {
		errs = append(errs, errors.New("dir: required"))
	}
	if o.Files < 0 || o.Files > 10000 {
		errs = append(errs, fmt.Errorf("files %d: want 1 to 10000", o.Files))
	}
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %v: want a positive rate", o.Rate))
	}
	if o.Duration < 0 || o.Records < 0 {
		errs = append(errs, errors.New("duration and records: want positive values"))
	}
	if o.Rotate != RotateNone && o.RotateBytes <= 0 && o.RotateEvery <= 0 {
		errs = append(errs, fmt.Errorf("rotate %s: needs a size or an age to rotate at", o.Rotate))
	}
	if o.Keep < 0 {
		errs = append(errs, fmt.Errorf("keep %d: want 0 (all) or more", o.Keep))
	}
	if !(o.SplitWrites >= 0 && o.SplitWrites <= 1) {
		errs = append(errs, fmt.Errorf("split writes %v: want a fraction", o.SplitWrites))
	}
	return errors.Join(errs...)
}

// Live appends entries to files until o.Duration passes, o.Records records
// are written or ctx ends, and returns the manifest of all files (rotated
// copies included). An ended ctx is a normal stop, not an error.
func Live(ctx context.Context, o LiveOptions) (Manifest, error) {
	if err := o.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("live options: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := New(o.Options)
	files := make([]*liveFile, 0, max(o.Files, 1))
	defer func() {
		for _, f := range files {
			f.close()
		}
	}()
	for _, p := range o.Paths() {
		f, err := openLive(p, &o)
		if err != nil {
			return g.Manifest(), err
		}
		files = append(files, f)
	}

	start := time.Now()
	var stop <-chan time.Time
	if o.Duration > 0 {
		t := time.NewTimer(o.Duration)
		defer t.Stop()
		stop = t.C
	}
	var tick <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}

	var buf []byte
	var entries int64
	records := 0
	err := func() error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-stop:
				return nil
			default:
			}
			due := int64(256) // unthrottled: a batch between checks of ctx and stop
			if o.Rate > 0 {
				due = int64(o.Rate*time.Since(start).Seconds()) - entries
			}
			for ; due > 0; due-- {
				f := files[entries%int64(len(files))]
				if err := f.maybeRotate(o.Now()); err != nil {
					return err
				}
				g.sound = f.size == 0
				before := g.m
				var k Kind
				buf, k = g.Line(buf[:0])
				if err := f.write(buf, g); err != nil {
					return err
				}
				f.account(&before, &g.m)
				entries++
				if k != KindNoise {
					records++
					if o.Records > 0 && records >= o.Records {
						return nil
					}
				}
			}
			if o.Rate > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-stop:
					return nil
				case <-tick:
				}
			}
		}
	}()
	m := g.Manifest()
	for _, f := range files {
		if cerr := f.close(); cerr != nil && err == nil {
			err = cerr
		}
		m.Files = append(m.Files, f.stat)
		m.Rotations += f.stat.Rotations
	}
	return m, err
}

// liveFile is one file of a live run and its rotated copies.
type liveFile struct {
	o       *LiveOptions
	path    string
	f       *os.File
	size    int64
	started time.Time
	kept    int // rotated copies on disk: path.1 ... path.kept
	stat    FileStat
}

func openLive(path string, o *LiveOptions) (*liveFile, error) {
	lf := &liveFile{o: o, path: path, stat: FileStat{Path: path, Envelope: o.Envelope.String(), Layout: o.Layout.String()}}
	if err := lf.open(); err != nil {
		return nil, err
	}
	return lf, nil
}

func (lf *liveFile) open() error {
	// O_APPEND: after copytruncate the next write lands at offset 0.
	f, err := os.OpenFile(lf.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", lf.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", lf.path, err)
	}
	lf.f, lf.size, lf.started = f, st.Size(), lf.o.Now()
	return nil
}

func (lf *liveFile) close() error {
	if lf.f == nil {
		return nil
	}
	err := lf.f.Close()
	lf.f = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", lf.path, err)
	}
	return nil
}

// write writes one entry: in one write() call, so a reader never sees part
// of it, unless this entry is one of the SplitWrites.
func (lf *liveFile) write(b []byte, g *Generator) error {
	if lf.o.SplitWrites > 0 && len(b) > 1 && g.r.Float64() < lf.o.SplitWrites {
		cut := 1 + g.r.IntN(len(b)-1)
		if _, err := lf.f.Write(b[:cut]); err != nil {
			return fmt.Errorf("write %s: %w", lf.path, err)
		}
		if lf.o.SplitPause > 0 {
			time.Sleep(lf.o.SplitPause) // the point: a reader catches the half line
		}
		b = b[cut:]
	}
	if _, err := lf.f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", lf.path, err)
	}
	return nil
}

// account adds what the generator wrote between before and after to the
// file's figures.
func (lf *liveFile) account(before, after *Manifest) {
	s := &lf.stat
	s.PhysicalLines += after.PhysicalLines - before.PhysicalLines
	s.Bytes += after.Bytes - before.Bytes
	s.Lines += after.Lines - before.Lines
	s.Records += after.Records - before.Records
	s.Malformed += after.Malformed - before.Malformed
	lf.size += after.Bytes - before.Bytes
}

func (lf *liveFile) maybeRotate(now time.Time) error {
	o := lf.o
	if o.Rotate == RotateNone || lf.size == 0 {
		return nil
	}
	if (o.RotateBytes > 0 && lf.size >= o.RotateBytes) || (o.RotateEvery > 0 && now.Sub(lf.started) >= o.RotateEvery) {
		return lf.rotate()
	}
	return nil
}

// rotated names the n-th rotated copy of the file.
func (lf *liveFile) rotated(n int) string {
	p := lf.path + "." + strconv.Itoa(n)
	if lf.o.Compress {
		p += ".gz"
	}
	return p
}

// rotate does what logrotate does: shift path.N to path.N+1 (dropping the
// copies beyond Keep), move the live file's content to path.1, and go on
// writing to a fresh path.
func (lf *liveFile) rotate() error {
	o := lf.o
	for n := lf.kept; n >= 1; n-- {
		if o.Keep > 0 && n+1 > o.Keep {
			if err := os.Remove(lf.rotated(n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("rotate %s: %w", lf.path, err)
			}
			continue
		}
		if err := os.Rename(lf.rotated(n), lf.rotated(n+1)); err != nil {
			return fmt.Errorf("rotate %s: %w", lf.path, err)
		}
	}
	first := lf.path + ".1"
	switch o.Rotate {
	case RotateRename:
		if err := lf.close(); err != nil {
			return err
		}
		if err := os.Rename(lf.path, first); err != nil {
			return fmt.Errorf("rotate %s: %w", lf.path, err)
		}
		if err := lf.open(); err != nil {
			return err
		}
	case RotateCopyTruncate:
		if err := copyFile(lf.path, first); err != nil {
			return fmt.Errorf("rotate %s: %w", lf.path, err)
		}
		if err := lf.f.Truncate(0); err != nil {
			return fmt.Errorf("rotate %s: truncate: %w", lf.path, err)
		}
		lf.size, lf.started = 0, o.Now()
	}
	if o.Compress {
		if err := gzipFile(first, first+".gz"); err != nil {
			return fmt.Errorf("rotate %s: %w", lf.path, err)
		}
	}
	if o.Keep == 0 || lf.kept < o.Keep {
		lf.kept++
	}
	lf.stat.Rotations++
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// gzipFile compresses src into dst and removes src. dst appears whole:
// it is written under a temporary name first.
func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return fmt.Errorf("compress %s: %w", src, err)
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return fmt.Errorf("compress %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("compress %s: %w", src, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return os.Remove(src)
}

// ReadWithRotated returns what was written to the live file at path, oldest
// first: its rotated copies (path.N ... path.1, gzipped or not) followed by
// path itself. Tests compare it with what a reader delivered.
func ReadWithRotated(path string) ([]byte, error) {
	var out []byte
	n := 0
	for {
		if !exists(path+"."+strconv.Itoa(n+1)) && !exists(path+"."+strconv.Itoa(n+1)+".gz") {
			break
		}
		n++
	}
	for ; n >= 1; n-- {
		p := path + "." + strconv.Itoa(n)
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			b, err = readGzip(p + ".gz")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return append(out, b...), nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
