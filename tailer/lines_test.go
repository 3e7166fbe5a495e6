package tailer

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineReader_Offsets(t *testing.T) {
	in := "a\r\nbb\n\nccccccccccc\nlast"
	r := NewLineReader(strings.NewReader(in), 100, 5, true)
	want := []Line{
		{Text: []byte("a"), Offset: 100, End: 103},
		{Text: []byte("bb"), Offset: 103, End: 106},
		{Text: []byte(""), Offset: 106, End: 107},
		{Text: []byte("ccccc"), Offset: 107, End: 119, Truncated: true},
		{Text: []byte("last"), Offset: 119, End: 123},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if string(got.Text) != string(w.Text) || got.Offset != w.Offset || got.End != w.End || got.Truncated != w.Truncated {
			t.Errorf("line %d: got %q %d-%d trunc=%v, want %q %d-%d trunc=%v", i, got.Text, got.Offset, got.End, got.Truncated, w.Text, w.Offset, w.End, w.Truncated)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after last line: %v, want EOF", err)
	}
}

// growingReader returns what has been appended so far, then EOF, like a file
// being written.
type growingReader struct{ data []string }

func (g *growingReader) Read(p []byte) (int, error) {
	if len(g.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.data[0])
	g.data[0] = g.data[0][n:]
	if g.data[0] == "" {
		g.data = g.data[1:]
	}
	return n, nil
}

func TestLineReader_ResumesHalfWrittenLine(t *testing.T) {
	g := &growingReader{data: []string{"one\ntw"}}
	r := NewLineReader(g, 0, 100, false)
	if l, err := r.Next(); err != nil || string(l.Text) != "one" {
		t.Fatalf("first line: %q %v", l.Text, err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("half line: %v, want ErrIncomplete", err)
	}
	if r.Offset() != 4 || r.Pending() != 2 {
		t.Errorf("offset %d pending %d, want 4 and 2", r.Offset(), r.Pending())
	}
	g.data = append(g.data, "o\n")
	l, err := r.Next()
	if err != nil || string(l.Text) != "two" || l.Offset != 4 || l.End != 8 {
		t.Fatalf("resumed line: %q %d-%d %v", l.Text, l.Offset, l.End, err)
	}
}
