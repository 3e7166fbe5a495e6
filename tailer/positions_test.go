package tailer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPositions_SaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	h := time.Date(2026, 11, 23, 10, 0, 0, 5, time.UTC)
	want := Positions{
		"1:2:aa": {Key: "1:2:aa", Path: "/var/log/a.log", Offset: 10, Dev: 1, Inode: 2, Fingerprint: "aa", FingerprintLen: 64, Horizon: h},
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
		t.Fatalf("got %d positions, want %d (the horizon entry in both)", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%q: got %+v, want %+v", k, got[k], w)
		}
	}
	// Saving again replaces, and leaves no temporary file.
	delete(want, "1:3:bb")
	if err := want.Save(path); err != nil {
		t.Fatal(err)
	}
	got, _ = LoadPositions(path)
	if len(got) != 2 || got["1:2:aa"].Key == "" {
		t.Errorf("after the second save: got %+v, want 1:2:aa and the horizon", got)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("files in the state dir: got %d, want 1 (no temporary left)", len(ents))
	}
}

func TestPositions_Missing(t *testing.T) {
	got, err := LoadPositions(filepath.Join(t.TempDir(), "positions.json"))
	if err != nil || len(got) != 0 {
		t.Errorf("missing file: got %v, %v; want no positions (no horizon either: a first start), no error", got, err)
	}
}

// The horizon must outlive the positions that carried it: when the last
// file ends, its position is dropped, and a restart must still know which
// rotated files are newer than what was saved.
func TestPositions_HorizonOutlivesPositions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	h1 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h2 := h1.Add(time.Minute)
	ps := Positions{
		"1:2:aa": {Key: "1:2:aa", Offset: 10, Dev: 1, Inode: 2, Horizon: h1},
		"1:3:bb": {Key: "1:3:bb", Offset: 20, Dev: 1, Inode: 3, Horizon: h2},
	}
	if err := ps.Save(path); err != nil {
		t.Fatal(err)
	}
	delete(ps, "1:2:aa")
	delete(ps, "1:3:bb")
	if err := ps.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := got.horizon(), h2; !got.Equal(want) {
		t.Errorf("horizon with no position left: got %v, want %v", got, want)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"positions": []`) || !strings.Contains(string(b), `"saved_at"`) {
		t.Errorf("file: got %s, want no positions and a saved_at", b)
	}
}

// A version 1 file has no horizon: its own time, less legacyMargin, stands in.
func TestPositions_LoadVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "positions.json")
	b, err := os.ReadFile(filepath.Join("testdata", "positions", "good.json"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
	saved := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, saved, saved); err != nil {
		t.Fatal(err)
	}
	ps, err := LoadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ps.horizon(), saved.Add(-legacyMargin); !got.Equal(want) {
		t.Errorf("horizon: got %v, want %v", got, want)
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
		{"version3.json", "version 3"},
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
