package tailer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPositions_SaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	want := Positions{
		"1:2:aa": {Key: "1:2:aa", Path: "/var/log/a.log", Offset: 10, Dev: 1, Inode: 2, Fingerprint: "aa", FingerprintLen: 64},
		"1:3:bb": {Key: "1:3:bb", Path: "/var/log/c/x.log", RealPath: "/var/log/p/0.log", Offset: 0, Dev: 1, Inode: 3},
	}
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d positions, want %d", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	// Saving again replaces, and leaves no temporary file.
	delete(want, "1:3:bb")
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, _ = LoadPositions(path)
	if len(got) != 1 {
		t.Errorf("after the second save: got %d positions, want 1", len(got))
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("files in the state dir: got %d, want 1 (no temporary left)", len(ents))
	}
}

func TestPositions_Missing(t *testing.T) {
	got, err := LoadPositions(filepath.Join(t.TempDir(), "positions.json"))
	if err != nil || len(got) != 0 {
		t.Errorf("missing file: got %v, %v; want no positions, no error", got, err)
	}
}

func TestPositions_StaleTempRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "positions.json")
	stale := filepath.Join(dir, "positions.json.tmp-12345")
	writeFile(t, stale, "{half")
	other := filepath.Join(dir, "other.tmp-1")
	writeFile(t, other, "x")
	if _, err := LoadPositions(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temp file: got %v, want it removed", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("unrelated file: got %v, want it kept", err)
	}
}

func TestPositions_Load(t *testing.T) {
	tests := []struct {
		file    string
		wantErr string // "" for no error
	}{
		{"good.json", ""},
		{"corrupt.json", "corrupt"},
		{"unknown-field.json", "corrupt"},
		{"version2.json", "version 2"},
		{"negative-offset.json", "entry 1 is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "positions", tt.file)
			ps, err := LoadPositions(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if got, want := ps["2049:131:5f3c1b2a9d8e7f60"].Offset, int64(812); got != want {
					t.Errorf("offset: got %d, want %d", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want an error naming %s and saying %q", err, path, tt.wantErr)
			}
		})
	}
}
