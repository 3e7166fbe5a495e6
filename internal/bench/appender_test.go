package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

// TestAppender_LinesParseWithTheirStamp checks that every appended line is a
// record tokentail parses, with a unique id and the nanosecond time it was
// written at: the latency part depends on both.
func TestAppender_LinesParseWithTheirStamp(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenAppender(dir, "app", 3, 1000)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := a.WriteEach(); err != nil {
		t.Fatal(err)
	}
	n, err := a.Run(context.Background(), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	a.Close()
	if n == 0 {
		t.Fatal("Run wrote nothing")
	}
	if got, want := a.Written(), n+3; got != want {
		t.Errorf("Written: got %d, want %d", got, want)
	}

	p, err := parse.NewParser(parse.Config{Source: "s", Marker: parse.DefaultMarker})
	if err != nil {
		t.Fatal(err)
	}
	arena := parse.NewArena(0)
	ids := map[string]bool{}
	subMS := 0
	var rec parse.Record
	var rej parse.Reject
	for i := range 3 {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("app-%03d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			msg := parse.Message{Text: sc.Bytes(), Raw: sc.Bytes()}
			if got := p.Parse(&msg, time.Now(), arena, &rec, &rej); got != parse.Parsed {
				t.Fatalf("%s: not parsed: %s %s", sc.Text(), rej.Reason, rej.Detail)
			}
			if ids[rec.EventID] {
				t.Errorf("event id %s twice", rec.EventID)
			}
			ids[rec.EventID] = true
			if rec.OccurredAt.Before(before) || rec.OccurredAt.After(after) {
				t.Errorf("occurred_at %s outside the run [%s, %s]", rec.OccurredAt, before, after)
			}
			if rec.OccurredAt.Nanosecond()%int(time.Millisecond) != 0 {
				subMS++
			}
		}
		f.Close()
	}
	if got, want := int64(len(ids)), a.Written(); got != want {
		t.Errorf("records in files: got %d, want %d", got, want)
	}
	// Millisecond stamps would make latencies coarse: nearly all must carry finer digits.
	if subMS < len(ids)*9/10 {
		t.Errorf("%d of %d stamps have sub-millisecond digits, want nearly all", subMS, len(ids))
	}
}

func TestAppender_Rate(t *testing.T) {
	a, err := OpenAppender(t.TempDir(), "app", 1, 2000)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	n, err := a.Run(context.Background(), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Due is computed from the elapsed time capped at the duration, so the
	// writer can fall short (a late tick) but never overshoot 2000/s × 0.1 s.
	if n > 200 {
		t.Errorf("wrote %d records in 100ms at 2000/s, want at most 200", n)
	}
}
