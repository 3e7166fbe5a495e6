package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentail/tokentail/internal/bench"
)

// A run replaces the generated table and keeps what was written by hand
// below the marker; a file without one is replaced whole.
func TestWriteMarkdown_KeepsHandWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	old := "# tokentail benchmarks\n| old figure | 1 s |\n\n" + bench.KeptMarker + "\n\n## Report\nten million rows\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := &bench.Report{Sections: []bench.Section{{Title: "Parse", Rows: []bench.Row{{What: "new figure", Figure: "2 s"}}}}}
	if err := writeMarkdown(path, rep); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if strings.Contains(s, "old figure") || !strings.Contains(s, "new figure") {
		t.Errorf("the generated table was not replaced:\n%s", s)
	}
	if !strings.HasSuffix(s, "\n"+bench.KeptMarker+"\n\n## Report\nten million rows\n") {
		t.Errorf("the hand-written part was not kept at the end:\n%s", s)
	}
	if err := writeMarkdown(path, rep); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if string(again) != s {
		t.Errorf("a second run changed the file beyond the table:\n%s", again)
	}
}
