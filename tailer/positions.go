package tailer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Position is how far a file has been read and acknowledged, and how to
// recognise the file again: by device and inode while it keeps them, by
// fingerprint once it has been copied or compressed. It is what the
// positions file holds, one per file.
type Position struct {
	Key  FileKey `json:"key"`
	Path string  `json:"path"` // the name the file was found under
	// RealPath is the symlink target when Path is a link, so a rotated
	// target is looked for next to it.
	RealPath string `json:"real_path,omitempty"`
	// Offset is just after the last acknowledged line.
	Offset int64  `json:"offset"`
	Dev    uint64 `json:"dev"`
	Inode  uint64 `json:"inode"`
	// Fingerprint is 16 hex digits of the SHA-256 of the file's first
	// FingerprintLen bytes.
	Fingerprint    string `json:"fingerprint"`
	FingerprintLen int    `json:"fingerprint_len"`
}

func (p Position) devIno() devIno { return devIno{dev: p.Dev, ino: p.Inode} }

func (p Position) fingerprint() fingerprint {
	return fingerprint{sum: p.Fingerprint, n: p.FingerprintLen}
}

// Positions are the saved positions, by key.
type Positions map[FileKey]Position

// positionsVersion is the format of the positions file; a file of another
// version is refused rather than guessed at.
const positionsVersion = 1

type positionsFile struct {
	Version   int        `json:"version"`
	Positions []Position `json:"positions"`
}

// tempPattern names the temporary files Save writes before renaming; a
// crash can leave one behind, and LoadPositions removes it.
func tempPattern(path string) string { return filepath.Base(path) + ".tmp-*" }

// LoadPositions reads the positions file at path. A missing file is no
// positions (the first start). Temporary files a crash left next to it are
// removed. A file that cannot be decoded is an error, not an empty start:
// starting over silently would re-read or skip every file, so the operator
// decides (move the file aside to start over, per start_at).
func LoadPositions(path string) (Positions, error) {
	stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	for _, s := range stale {
		// A temp file is never the truth: the rename that would have made
		// it so did not happen.
		_ = os.Remove(s)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Positions{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read positions %s: %w", path, err)
	}
	var pf positionsFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("positions file %s is corrupt (%v): move it aside to start over, files are then read per start_at", path, err)
	}
	if pf.Version != positionsVersion {
		return nil, fmt.Errorf("positions file %s has version %d, want %d", path, pf.Version, positionsVersion)
	}
	ps := make(Positions, len(pf.Positions))
	for i, p := range pf.Positions {
		if p.Key == "" || p.Offset < 0 || p.FingerprintLen < 0 || p.FingerprintLen > FingerprintMax {
			return nil, fmt.Errorf("positions file %s is corrupt: entry %d is invalid: move it aside to start over", path, i+1)
		}
		ps[p.Key] = p
	}
	return ps, nil
}

// Save writes the positions to path atomically: a temporary file is
// written and fsynced, renamed over path, and the directory fsynced, so a
// crash leaves either the old file or the new one, never a mix.
func (ps Positions) Save(path string) error {
	pf := positionsFile{Version: positionsVersion, Positions: make([]Position, 0, len(ps))}
	for _, p := range ps {
		pf.Positions = append(pf.Positions, p)
	}
	// Sorted, so equal positions make equal files (diffable, testable).
	slices.SortFunc(pf.Positions, func(a, b Position) int { return strings.Compare(string(a.Key), string(b.Key)) })
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode positions: %w", err)
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmpName, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
