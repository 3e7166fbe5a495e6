package tailer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests step by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// newFakeClock starts at the real time: the follower compares its clock
// with the modification times the filesystem gives files.
func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testFollower is a Follower driven by the test: no change events, no
// ticks; the test syncs and reads without waiting.
type testFollower struct {
	*Follower
	t     *testing.T
	clock *fakeClock
}

// quietLogger drops everything but errors, which fail no test but show.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func follow(t *testing.T, opts Options) *testFollower {
	t.Helper()
	clock := newFakeClock()
	opts.NoWatch = true
	opts.Tick = make(chan time.Time) // never ticks: the test syncs
	opts.Now = clock.Now
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	f, err := Follow(context.Background(), opts)
	if err != nil {
		t.Fatalf("Follow: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return &testFollower{Follower: f, t: t, clock: clock}
}

// sync runs one discovery pass now, as a poll tick would.
func (tf *testFollower) sync() {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	tf.Follower.sync(false)
}

// got is a Line with its text copied.
type got struct {
	Text   string
	Key    FileKey
	Path   string
	Offset int64
	End    int64
	Done   bool
	Pos    Position
}

// drain reads every line ready now, without waiting.
func (tf *testFollower) drain() []got {
	tf.t.Helper()
	var out []got
	for {
		l, err := tf.next(context.Background(), false)
		if errors.Is(err, errNoLine) {
			return out
		}
		if err != nil {
			tf.t.Fatalf("next: %v", err)
		}
		out = append(out, got{Text: string(l.Text), Key: l.Key, Path: l.Path, Offset: l.Offset, End: l.End, Done: l.Done, Pos: l.Position()})
		if len(out) > 100000 {
			tf.t.Fatal("endless lines")
		}
	}
}

func texts(ls []got) []string {
	var out []string
	for _, l := range ls {
		if l.Done {
			out = append(out, "DONE "+filepath.Base(l.Path))
			continue
		}
		out = append(out, l.Text)
	}
	return out
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	fd, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func gzipTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	writeFile(t, dst, buf.String())
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
}

// record makes a log line long enough (> FingerprintMin) that a file of a
// few of them can be recognised by fingerprint alone.
func record(i int) string {
	return "2025-01-01T00:00:00Z info AI_COST: {\"model\":\"gpt-4o-mini\",\"input_tokens\":812,\"output_tokens\":96,\"n\":" + itoa(i) + "}"
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func records(from, to int) string {
	var sb strings.Builder
	for i := from; i < to; i++ {
		sb.WriteString(record(i))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ack applies lines to ps as the pipeline does once they are written: a
// line moves its file's position, a Done line drops it.
func ack(ps Positions, ls []got) {
	for _, l := range ls {
		if l.Done {
			delete(ps, l.Key)
			continue
		}
		ps[l.Key] = l.Pos
	}
}

// saveLoad saves ps to a positions file and loads it back, as a restart does.
func saveLoad(t *testing.T, ps Positions) Positions {
	t.Helper()
	path := filepath.Join(t.TempDir(), "positions.json")
	if err := ps.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	return loaded
}

// setMtime sets a file's modification time.
func setMtime(t *testing.T, path string, mt time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

// recordCounts counts how often each record(i) line was read; other lines
// and Done lines are left out.
func recordCounts(ls []got) map[int]int {
	n := map[int]int{}
	for _, l := range ls {
		i := strings.LastIndex(l.Text, `"n":`)
		if l.Done || i < 0 {
			continue
		}
		v := 0
		for _, c := range l.Text[i+4 : len(l.Text)-1] {
			v = v*10 + int(c-'0')
		}
		n[v]++
	}
	return n
}

// exactlyOnce checks that the records in want were each read once and that
// no other record was read.
func exactlyOnce(t *testing.T, ls []got, want ...[2]int) {
	t.Helper()
	counts := recordCounts(ls)
	expected := map[int]bool{}
	for _, r := range want {
		for i := r[0]; i < r[1]; i++ {
			expected[i] = true
			if counts[i] != 1 {
				t.Errorf("record %d read %d times, want once", i, counts[i])
			}
		}
	}
	for i, c := range counts {
		if !expected[i] {
			t.Errorf("record %d read %d times, want never (acknowledged before, or history)", i, c)
		}
	}
}
