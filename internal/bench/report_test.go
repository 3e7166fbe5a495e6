package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestReport_Markdown(t *testing.T) {
	rep := &Report{
		Machine:  Machine{CPU: "AMD EPYC", Cores: 2, MemoryKiB: 24 << 20, Go: "go1.26", Date: time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC), LoadStart: "8.1 7.0 6.5", LoadEnd: "9.0 8.0 7.0", Commit: "abc123"},
		Settings: "parts backfill",
		Sections: []Section{{
			Title: "Backfill",
			Rows: []Row{
				{What: "wall", Figure: "12.00 s", Target: "≤ 1.25× raw", Met: met(true), Ratio: "1.10× raw"},
				{What: "cpu|pipe", Figure: "6 µs", Target: "≤ 5 µs", Met: met(false)},
				{What: "input", Figure: "616 MB"},
			},
			Notes: []string{"a note"},
		}},
		Errors: []string{"latency: boom"},
	}
	var b bytes.Buffer
	rep.WriteMarkdown(&b, "BENCH_RECORDS=100 make bench")
	md := b.String()
	for _, want := range []string{
		"| CPU | AMD EPYC |", "| cores | 2 |", "| memory | 24.0 GiB |", "| Go | go1.26 |",
		"at start 8.1 7.0 6.5", "2026-11-23 17:00 UTC", "`BENCH_RECORDS=100 make bench`",
		"| What | Figure | Target | Ratio |",
		"| wall | 12.00 s | ≤ 1.25× raw ✓ | 1.10× raw |",
		`| cpu\|pipe | 6 µs | ≤ 5 µs ✗ |  |`,
		"| input | 616 MB |  |  |",
		"**Backfill**: a note", "- latency: boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}

	b.Reset()
	rep.WriteText(&b)
	for _, want := range []string{"machine: AMD EPYC, 2 cores", "[Backfill]", "≤ 5 µs ✗", "FAILED: latency: boom"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestKept(t *testing.T) {
	old := []byte("# tokentail benchmarks\n| a | 1 |\n\n" + KeptMarker + "\n\n## Report\nby hand\n")
	if got, want := string(Kept(old)), KeptMarker+"\n\n## Report\nby hand\n"; got != want {
		t.Fatalf("Kept = %q, want %q", got, want)
	}
	if got := Kept([]byte("# tokentail benchmarks\nno marker\n")); got != nil {
		t.Fatalf("Kept without a marker = %q, want nil", got)
	}
	if got := Kept([]byte("text " + KeptMarker + "\n")); got != nil {
		t.Fatalf("a marker inside a line = %q, want nil", got)
	}
}
