package loggen

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// liveLines returns the application lines in everything written to path
// and its rotated copies, checking that every line appears exactly once.
func liveLines(t *testing.T, path string) []byte {
	t.Helper()
	b, err := ReadWithRotated(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends inside a line", path)
	}
	return b
}

// recordIDs returns the request ids of the plain marker lines in b, and
// fails on any id seen twice.
func recordIDs(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, l := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		rec, _, ok := naiveParse(l, DefaultMarker, DefaultMaxLineBytes)
		if !ok || rec.id == "" {
			continue
		}
		if ids[rec.id] {
			t.Fatalf("id %s appears twice", rec.id)
		}
		ids[rec.id] = true
	}
	return ids
}

func TestLive_RotationKeepsEveryLineOnce(t *testing.T) {
	tests := []struct {
		name     string
		rotate   Rotation
		compress bool
	}{
		{"rename", RotateRename, false},
		{"rename gzip", RotateRename, true},
		{"copytruncate", RotateCopyTruncate, false},
		{"copytruncate gzip", RotateCopyTruncate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			o := LiveOptions{
				Options:     Options{Seed: 1, Noise: 0.3},
				Dir:         dir,
				Files:       2,
				Records:     600,
				Rotate:      tt.rotate,
				RotateBytes: 16 << 10,
				Compress:    tt.compress,
				SplitWrites: 0.1,
			}
			m, err := Live(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if m.Rotations < 4 {
				t.Fatalf("%d rotations, want several (%d bytes at 16 KiB)", m.Rotations, m.Bytes)
			}
			var total int64
			ids := 0
			for i, p := range o.Paths() {
				b := liveLines(t, p)
				if got, want := int64(len(b)), m.Files[i].Bytes; got != want {
					t.Errorf("%s: %d bytes on disk, manifest says %d", p, got, want)
				}
				if got, want := int64(bytes.Count(b, []byte{'\n'})), m.Files[i].PhysicalLines; got != want {
					t.Errorf("%s: %d lines on disk, manifest says %d", p, got, want)
				}
				total += int64(len(b))
				ids += len(recordIDs(t, b))
			}
			if total != m.Bytes {
				t.Errorf("files hold %d bytes, manifest %d", total, m.Bytes)
			}
			if int64(ids) != m.DistinctRequestIDs {
				t.Errorf("%d distinct ids on disk, manifest %d", ids, m.DistinctRequestIDs)
			}
			if m.Records != 600 {
				t.Errorf("records %d, want 600", m.Records)
			}
			suffix := ".1"
			if tt.compress {
				suffix = ".1.gz"
			}
			if _, err := os.Stat(o.Paths()[0] + suffix); err != nil {
				t.Errorf("no rotated copy: %v", err)
			}
		})
	}
}

func TestLive_SameBytesAsBatch(t *testing.T) {
	// With a stopped clock, live mode draws what batch mode draws: the
	// rotated files joined must be the batch output, byte for byte.
	fixed := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	gen := Options{Seed: 8, Envelope: CRI, Noise: 0.3, Malformed: 0.05, SplitBytes: 300, Now: func() time.Time { return fixed }}
	want, _ := generate(t, gen, 400)
	for _, rot := range []Rotation{RotateRename, RotateCopyTruncate} {
		t.Run(rot.String(), func(t *testing.T) {
			o := LiveOptions{Options: gen, Dir: t.TempDir(), Records: 400, Rotate: rot, RotateBytes: 10 << 10, Compress: true}
			m, err := Live(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			got := liveLines(t, o.Paths()[0])
			if !bytes.Equal(got, want) {
				t.Errorf("live files (%d bytes, %d rotations) differ from batch output (%d bytes)", len(got), m.Rotations, len(want))
			}
		})
	}
}

func TestLive_KeepDeletesOldest(t *testing.T) {
	dir := t.TempDir()
	o := LiveOptions{Dir: dir, Name: "api", Records: 500, Rotate: RotateRename, RotateBytes: 8 << 10, Keep: 2}
	m, err := Live(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rotations < 4 {
		t.Fatalf("%d rotations, want at least 4", m.Rotations)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "api.log*"))
	got := strings.Join(names, " ")
	want := strings.Join([]string{filepath.Join(dir, "api.log"), filepath.Join(dir, "api.log.1"), filepath.Join(dir, "api.log.2")}, " ")
	if got != want {
		t.Errorf("files %s, want %s", got, want)
	}
}

func TestLive_StopsAtDuration(t *testing.T) {
	dir := t.TempDir()
	o := LiveOptions{Dir: dir, Rate: 1000, Duration: 150 * time.Millisecond, Rotate: RotateRename, RotateEvery: 40 * time.Millisecond}
	start := time.Now()
	m, err := Live(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("ran %v, want about 150ms", el)
	}
	if m.Lines == 0 || m.Lines > 1000 {
		t.Errorf("%d lines at 1000/s for 150ms", m.Lines)
	}
	b := liveLines(t, o.Paths()[0])
	if int64(len(b)) != m.Bytes {
		t.Errorf("files hold %d bytes, manifest %d", len(b), m.Bytes)
	}
}

func TestLive_StopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m, err := Live(ctx, LiveOptions{Dir: dir, Rate: 10})
	if err != nil {
		t.Fatalf("a cancelled context is a normal stop, got %v", err)
	}
	if len(m.Files) != 1 {
		t.Errorf("manifest lists %d files, want 1", len(m.Files))
	}
}

func TestLiveOptions_Validate(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    LiveOptions
		want string
	}{
		{"no dir", LiveOptions{}, "dir"},
		{"rotate without limit", LiveOptions{Dir: "x", Rotate: RotateRename}, "rotate rename"},
		{"negative rate", LiveOptions{Dir: "x", Rate: -1}, "rate"},
		{"ok", LiveOptions{Dir: "x", Rotate: RotateCopyTruncate, RotateEvery: time.Second}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestLive_FirstLineOfEveryFileIsSound(t *testing.T) {
	// Format detection reads a file's first line: a broken envelope there
	// would make a reader misread the whole file.
	dir := t.TempDir()
	o := LiveOptions{
		Options: Options{Envelope: CRI, Malformed: 1, MalformedReasons: []parse.Reason{parse.ReasonBadEnvelope}},
		Dir:     dir, Files: 2, Records: 300, Rotate: RotateRename, RotateBytes: 4 << 10,
	}
	m, err := Live(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.log*"))
	if int64(len(names)) != m.Rotations+2 {
		t.Fatalf("%d files, want %d", len(names), m.Rotations+2)
	}
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(b, []byte{'\n'})
		if _, broken := unwrap(t, append(first, '\n'), CRI); broken != 0 {
			t.Errorf("%s starts with a broken envelope: %.200s", p, first)
		}
	}
	if m.Rejects[parse.ReasonBadEnvelope] < 250 {
		t.Errorf("only %d broken envelopes", m.Rejects[parse.ReasonBadEnvelope])
	}
}
