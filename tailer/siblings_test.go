package tailer

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// logrotate does what logrotate's default rotation does to p: p.N moves to
// p.N+1 for the kept ones, p moves to p.1, compressed when gz.
func logrotate(t *testing.T, p string, gz bool, kept int) {
	t.Helper()
	ext := ""
	if gz {
		ext = ".gz"
	}
	for n := kept; n >= 1; n-- {
		if err := os.Rename(p+"."+itoa(n)+ext, p+"."+itoa(n+1)+ext); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	if gz {
		gzipTo(t, p+".1", p+".1.gz")
	}
}

// drainAll reads what is ready, then lets a minute pass so rotated files
// are let go, and reads what that gives.
func (tf *testFollower) drainAll() []got {
	ls := tf.drain()
	tf.clock.Add(time.Minute)
	tf.sync()
	return append(ls, tf.drain()...)
}

func dones(ls []got) []string {
	var out []string
	for _, l := range ls {
		if l.Done {
			out = append(out, filepath.Base(l.Path))
		}
	}
	slices.Sort(out)
	return out
}

// TestFollower_RotatedTwiceWhileDown is the chaos test's loss: the daemon
// is down while its log is rotated twice or more. The file in between (B:
// created after the last save and rotated away before the restart) is
// neither known nor matched by the glob; it must still be read, once.
func TestFollower_RotatedTwiceWhileDown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rotations int
		gz        bool
	}{
		{"two rotations", 2, false},
		{"three rotations", 3, false},
		{"two rotations gzip", 2, true},
		{"three rotations gzip", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			writeFile(t, p, records(0, 5))
			glob := []string{filepath.Join(dir, "*.log")}
			tf := follow(t, Options{Globs: glob})
			ps := Positions{}
			ack(ps, tf.drain())
			tf.Close()

			// Down: A gets more lines, then the log is rotated again and again.
			appendFile(t, p, records(5, 8))
			want := [][2]int{{5, 8}}
			for r := 0; r < tc.rotations; r++ {
				logrotate(t, p, tc.gz, r)
				from := 100 * (r + 1)
				writeFile(t, p, records(from, from+4))
				want = append(want, [2]int{from, from + 4})
			}

			tf2 := follow(t, Options{Globs: glob, Known: saveLoad(t, ps)})
			all := tf2.drainAll()
			exactlyOnce(t, all, want...)
			if got, want := len(dones(all)), tc.rotations; got != want {
				t.Errorf("files finished: got %q, want %d (A and every B)", dones(all), want)
			}
			if got := tf2.Stats().FilesMissed.Load(); got != 0 {
				t.Errorf("files missed: got %d, want 0", got)
			}
		})
	}
}

// When the last file ended, its position was dropped: the positions file
// is empty, but was saved, and the file created since is new content.
func TestFollower_RotatedWhileDownNoPositionLeft(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, records(0, 3))
	glob := []string{filepath.Join(dir, "*.log")}
	// The clock stays close to the real one: the files' mtimes are real.
	tf := follow(t, Options{Globs: glob, RotateWait: time.Millisecond})
	ps := Positions{}
	path := filepath.Join(t.TempDir(), "positions.json")
	// Saved after each write, as the pipeline does.
	ack(ps, tf.drain())
	if err := ps.Save(path); err != nil {
		t.Fatal(err)
	}
	logrotate(t, p, false, 0)
	writeFile(t, p, "") // B: created empty, no line to give it a position
	tf.sync()
	tf.clock.Add(10 * time.Millisecond)
	tf.sync()
	ack(ps, tf.drain())
	if err := ps.Save(path); err != nil {
		t.Fatal(err)
	}
	tf.Close()
	known, err := LoadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 1 || known.horizon().IsZero() {
		t.Fatalf("positions: got %+v, want none left (A done, B empty) but the horizon", known)
	}

	appendFile(t, p, records(100, 104))
	logrotate(t, p, false, 1)
	writeFile(t, p, records(200, 201))

	tf2 := follow(t, Options{Globs: glob, Known: known})
	var all []got
	for _, l := range tf2.drainAll() {
		// A ended after the horizon the file kept (the horizon of its own
		// last lines went with its position): reading it again is the
		// price of never skipping, and writes make it harmless.
		if n := recordCounts([]got{l}); len(n) == 1 && n[0]+n[1]+n[2] == 1 {
			continue
		}
		all = append(all, l)
	}
	exactlyOnce(t, all, [2]int{100, 104}, [2]int{200, 201})
}

// A first start (no positions file) leaves rotated files alone, whatever
// their age: history is for backfill. One still written to is read from
// where it was.
func TestFollower_FirstStartLeavesRotatedAlone(t *testing.T) {
	for _, startAtEnd := range []bool{false, true} {
		t.Run(map[bool]string{false: "start_at beginning", true: "start_at end"}[startAtEnd], func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			writeFile(t, p, records(0, 3))
			writeFile(t, p+".1", records(100, 103))
			writeFile(t, p+".2", records(200, 203))
			gzipTo(t, p+".2", p+".2.gz")
			writeFile(t, p+".3", records(300, 303))
			setMtime(t, p+".3", time.Now().Add(-time.Hour))
			tf := follow(t, Options{Globs: []string{filepath.Join(dir, "*.log")}, StartAtEnd: startAtEnd})
			var want [][2]int
			if !startAtEnd {
				want = append(want, [2]int{0, 3})
			}
			all := tf.drainAll()
			appendFile(t, p+".1", records(103, 104))
			tf.sync()
			all = append(all, tf.drainAll()...)
			exactlyOnce(t, all, append(want, [2]int{103, 104})...)
		})
	}
}

// A rotated file no position knows but not modified since the saved horizon
// held nothing new when the positions were saved: it is not read.
func TestFollower_RotatedOlderThanSave(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, records(0, 3))
	glob := []string{filepath.Join(dir, "*.log")}
	tf := follow(t, Options{Globs: glob})
	ps := Positions{}
	ack(ps, tf.drain())
	tf.Close()
	known := saveLoad(t, ps)
	h := known.horizon()
	if h.IsZero() {
		t.Fatal("no horizon saved")
	}

	writeFile(t, p+".1", records(100, 103))
	setMtime(t, p+".1", h.Add(-time.Minute))
	writeFile(t, p+".2", records(200, 203))
	gzipTo(t, p+".2", p+".2.gz")
	setMtime(t, p+".2.gz", h.Add(-time.Minute))
	writeFile(t, p+".3", records(300, 303))
	setMtime(t, p+".3", h.Add(time.Second))
	// Compressed after the save (logrotate's delaycompress) from a file
	// last written before it: the gzip header keeps the source's mtime.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.ModTime = h.Add(-time.Minute)
	zw.Write([]byte(records(400, 403)))
	zw.Close()
	writeFile(t, p+".4.gz", buf.String())

	tf2 := follow(t, Options{Globs: glob, Known: known})
	exactlyOnce(t, tf2.drainAll(), [2]int{300, 303})
}

// copytruncate while down: the copy holds the old file's lines; it is found
// by fingerprint and finished from the saved offset, not read again as a
// file nobody knows.
func TestFollower_CopyTruncateWhileDown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines int // in the file when it was read: 20 fill the fingerprint, 5 do not
		gz    bool
	}{
		{"copy", 20, false},
		{"copy gzip", 20, true},
		{"short fingerprint", 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.log")
			writeFile(t, p, records(0, tc.lines))
			glob := []string{filepath.Join(dir, "*.log")}
			tf := follow(t, Options{Globs: glob})
			ls := tf.drain()
			ps := Positions{}
			ack(ps, ls[:3]) // the rest was read, not written, when it died
			tf.Close()

			appendFile(t, p, records(tc.lines, tc.lines+5))
			copyFile(t, p, p+".1")
			if tc.gz {
				gzipTo(t, p+".1", p+".1.gz")
			}
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			appendFile(t, p, records(100, 103))

			tf2 := follow(t, Options{Globs: glob, Known: saveLoad(t, ps)})
			all := tf2.drainAll()
			exactlyOnce(t, all, [2]int{3, tc.lines + 5}, [2]int{100, 103})
			for _, l := range all {
				if n := recordCounts([]got{l}); len(n) == 1 && n[100] == 0 && n[101] == 0 && n[102] == 0 && l.Key != ls[0].Key {
					t.Errorf("%q: got key %s, want the saved key %s (finished from the copy)", l.Text, l.Key, ls[0].Key)
				}
			}
			if got := tf2.Stats().BytesSkipped.Load(); got != 0 {
				t.Errorf("bytes skipped: got %d, want 0", got)
			}
		})
	}
}

// While running, a file created and rotated away between two syncs is
// found among the rotated files and read.
func TestFollower_RotatedBeforeSeen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, records(0, 3))
	tf := follow(t, Options{Globs: []string{filepath.Join(dir, "*.log")}})
	all := tf.drain()
	appendFile(t, p, records(3, 4))
	logrotate(t, p, false, 0)
	writeFile(t, p, records(100, 103)) // B, never seen
	logrotate(t, p, false, 1)
	writeFile(t, p, records(200, 203))
	tf.sync()
	all = append(all, tf.drainAll()...)
	exactlyOnce(t, all, [2]int{0, 4}, [2]int{100, 103}, [2]int{200, 203})
	if got, want := dones(all), []string{"app.log.1", "app.log.2"}; !equal(got, want) {
		t.Errorf("finished: got %q, want %q", got, want)
	}
}

// A rotated file let go after RotateWait and written again (its writer
// kept it open longer) is read on from where it was let go.
func TestFollower_WrittenAfterLetGo(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, records(0, 2))
	tf := follow(t, Options{Globs: []string{filepath.Join(dir, "*.log")}})
	first := tf.drain()
	w, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	logrotate(t, p, false, 0)
	writeFile(t, p, records(100, 101))
	tf.sync()
	all := append(first, tf.drainAll()...)
	if got, want := dones(all), []string{"app.log.1"}; !equal(got, want) {
		t.Fatalf("finished: got %q, want %q", got, want)
	}
	w.WriteString(record(2) + "\n")
	tf.sync()
	late := tf.drainAll()
	all = append(all, late...)
	exactlyOnce(t, all, [2]int{0, 3}, [2]int{100, 101})
	if len(late) == 0 || late[0].Key == first[0].Key || late[0].Offset != first[1].End {
		t.Errorf("late line: got %+v, want a new key, at offset %d", late, first[1].End)
	}
}

// StartAtEnd does not apply to a new file modified since the saved horizon:
// it was written while the daemon was down.
func TestFollower_StartAtEndAfterSave(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.log")
	writeFile(t, p, records(0, 3))
	glob := []string{filepath.Join(dir, "*.log")}
	tf := follow(t, Options{Globs: glob})
	ps := Positions{}
	ack(ps, tf.drain())
	tf.Close()
	known := saveLoad(t, ps)

	writeFile(t, filepath.Join(dir, "new.log"), records(100, 102))
	old := filepath.Join(dir, "old.log")
	writeFile(t, old, records(200, 202))
	setMtime(t, old, known.horizon().Add(-time.Minute))

	tf2 := follow(t, Options{Globs: glob, Known: known, StartAtEnd: true})
	exactlyOnce(t, tf2.drainAll(), [2]int{100, 102})
}

// The horizon stays at the mtime of a file with lines left to read, across
// syncs, and moves on once it is read to its end.
func TestFollower_Horizon(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	writeFile(t, a, records(0, 3*pickBudget))
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	setMtime(t, a, old)
	b := filepath.Join(dir, "b.log")
	writeFile(t, b, "b1\n")
	tf := follow(t, Options{Globs: []string{filepath.Join(dir, "*.log")}})

	for i := 0; i < pickBudget+10; i++ {
		l, err := tf.next(context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		if l.Position().Horizon.After(old) {
			t.Fatalf("line %d: horizon %v, want at most %v (a.log not read yet)", i, l.Position().Horizon, old)
		}
		if i == pickBudget/2 {
			tf.clock.Add(time.Minute)
			tf.sync() // must not raise it: a.log is still behind
		}
	}
	tf.drain()
	tf.clock.Add(time.Minute)
	tf.sync()
	appendFile(t, b, "b2\n")
	tf.sync()
	ls := tf.drain()
	if len(ls) != 1 {
		t.Fatalf("got %q, want b2", texts(ls))
	}
	if h := ls[0].Pos.Horizon; !h.After(old) || h.After(tf.clock.Now()) {
		t.Errorf("horizon once read: got %v, want after %v and not after the clock %v", h, old, tf.clock.Now())
	}
}

func TestRotationBases(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"app.log", nil},
		{"app.log.1", []string{"app.log"}},
		{"app.log.12.gz", []string{"app.log.12", "app.log"}},
		{"app.log-20261123", []string{"app.log"}},
		{"app.log-20261123.gz", []string{"app.log-20261123", "app.log"}},
		{"0.log.20240101-120000", []string{"0.log.20240101", "0.log"}},
		{"app-00.log.1", []string{"app-00.log"}},
		{"app.log.gz", []string{"app.log"}},
		{"app.log.old", nil},
		{"app.log.", nil},
		{"123", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rotationBases(tt.name); !equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
