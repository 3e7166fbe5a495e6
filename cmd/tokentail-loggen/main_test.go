package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokentail/tokentail/internal/loggen"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"300", 300, true}, {"64KB", 64 << 10, true}, {"10MB", 10 << 20, true}, {"1GiB", 1 << 30, true},
		{"16k", 16 << 10, true}, {"0", 0, true}, {"ten", 0, false}, {"-5MB", 0, false}, {"30s", 0, false},
	} {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"2000/s", 2000, true}, {"2000", 2000, true}, {"120/m", 2, true}, {"3600/h", 1, true},
		{"5/d", 0, false}, {"fast", 0, false},
	} {
		got, err := parseRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseRate(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestRun_BatchIsReproducible(t *testing.T) {
	dir := t.TempDir()
	run := func(name string) []byte {
		t.Helper()
		out := filepath.Join(dir, name)
		args := []string{"--records", "500", "--format", "cri", "--malformed", "0.05", "--seed", "3", "--out", out, "--manifest", out + ".json"}
		if err := Run(context.Background(), args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := run("a.log"), run("b.log")
	if !bytes.Equal(a, b) {
		t.Errorf("two runs with the same seed differ")
	}
	m, err := loggen.ReadManifest(filepath.Join(dir, "a.log.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Records + m.Malformed; got != 500 {
		t.Errorf("manifest: %d record lines, want 500", got)
	}
	if m.Bytes != int64(len(a)) || m.Envelope != "cri" {
		t.Errorf("manifest: %d bytes of %s, want %d of cri", m.Bytes, m.Envelope, len(a))
	}
}

func TestRun_Mixed(t *testing.T) {
	dir := t.TempDir()
	args := []string{"batch", "--format", "mixed", "--records", "100", "--out", dir, "--gzip", "--manifest", filepath.Join(dir, "m.json")}
	if err := Run(context.Background(), args, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	m, err := loggen.ReadManifest(filepath.Join(dir, "m.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 4 || m.Records+m.Malformed != 400 {
		t.Fatalf("manifest: %d files, %d record lines; want 4 and 400", len(m.Files), m.Records+m.Malformed)
	}
	for _, f := range m.Files {
		if _, err := os.Stat(f.Path); err != nil {
			t.Errorf("%s: %v", f.Path, err)
		}
	}
}

func TestRun_UsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--format", "xml"},
		{"--noise", "1.5"},
		{"--records", "-1"},
		{"live"},
		{"live", "--out", "x", "--rate", "fast"},
		{"live", "--out", "x", "--rotate", "rename"},
		{"live", "--out", "x", "--format", "mixed"},
		{"frobnicate"},
	} {
		err := Run(context.Background(), args, io.Discard, io.Discard)
		if !errors.As(err, new(usageError)) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

func TestRun_LiveStopsAtRecords(t *testing.T) {
	dir := t.TempDir()
	args := []string{"live", "--out", dir, "--rate", "0", "--records", "50", "--rotate", "copytruncate", "--rotate-every", "4KB", "--manifest", filepath.Join(dir, "m.json")}
	if err := Run(context.Background(), args, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	m, err := loggen.ReadManifest(filepath.Join(dir, "m.json"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Records+m.Malformed != 50 || m.Rotations == 0 {
		t.Errorf("manifest: %d record lines, %d rotations; want 50 and some", m.Records+m.Malformed, m.Rotations)
	}
}
