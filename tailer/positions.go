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
	"time"
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
	// Horizon bounds what had not been read when this position's line was
	// handed out: every file that still held lines not handed out then was
	// last modified at or after it (its mtime). A restart reads the rotated
	// files next to the followed ones that no position knows and that were
	// modified after the latest horizon (less a margin): they hold lines
	// no position covers. See docs/tailing.md.
	Horizon time.Time `json:"horizon,omitzero"`
}

func (p Position) devIno() devIno { return devIno{dev: p.Dev, ino: p.Inode} }

func (p Position) fingerprint() fingerprint {
	return fingerprint{sum: p.Fingerprint, n: p.FingerprintLen}
}

// Positions are the saved positions, by key.
//
// The entry under the empty key, when there is one, is not a file's: it
// keeps the latest Horizon saved, which must outlive the positions that
// carried it (a file's position is dropped when the file ends, and the
// positions file may then be empty). LoadPositions sets it, Save updates
// it and writes it as the file's horizon, Follow reads it. Code that
// iterates over Positions skips it.
type Positions map[FileKey]Position

// horizonKey is the key of the entry that keeps the horizon.
const horizonKey FileKey = ""

// horizon is the latest Horizon of ps, or zero when none was saved (the
// positions of a first start).
func (ps Positions) horizon() time.Time {
	var h time.Time
	for _, p := range ps {
		if p.Horizon.After(h) {
			h = p.Horizon
		}
	}
	return h
}

// positionsVersion is the format of the positions file; a file of another
// version is refused rather than guessed at. Version 1 (no horizons) is
// still read.
const positionsVersion = 2

// clockWentBack is the horizon that stands for one the clock made
// worthless: the Unix epoch, before every mtime, so every rotated file no
// position covers is read. It is not zero, which would mean a first start.
func clockWentBack() time.Time { return time.Unix(0, 0).UTC() }

// legacyMargin is how far before a version 1 file was saved its horizon is
// taken to be: that file has none, and its positions may have lagged
// behind reading. Too early only means reading some rotated files again.
const legacyMargin = time.Minute

type positionsFile struct {
	Version int `json:"version"`
	// SavedAt is when the file was written, for people; Horizon is what
	// Follow uses.
	SavedAt   time.Time  `json:"saved_at,omitzero"`
	Horizon   time.Time  `json:"horizon,omitzero"`
	Positions []Position `json:"positions"`
}

// tempPattern names the temporary files Save writes before renaming; a
// crash can leave one behind, and LoadPositions removes it.
func tempPattern(path string) string { return filepath.Base(path) + ".tmp-*" }

// LoadPositions reads the positions file at path. A missing file is no
// positions (the first start): then no rotated file is read that no
// position names (history is for backfill). Temporary files a crash left
// next to it are removed. A file that cannot be decoded is an error, not an empty start:
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
	switch pf.Version {
	case positionsVersion:
	case 1:
		// Saved before horizons existed: the file's own time stands in
		// for one, moved back to allow for positions lagging behind.
		if fi, err := os.Stat(path); err == nil {
			pf.Horizon = fi.ModTime().Add(-legacyMargin).UTC()
		}
	default:
		return nil, fmt.Errorf("positions file %s has version %d, want %d", path, pf.Version, positionsVersion)
	}
	// A horizon later than the save itself: the clock was set back while
	// the positions were being saved (horizons are never later than the
	// moment their line was read), so files written since have mtimes
	// before the horizon and it excludes nothing safely. Follow reads every
	// rotated file no position covers instead (reading again is harmless).
	clockBack := !pf.SavedAt.IsZero() && pf.Horizon.After(pf.SavedAt.Add(rotatedMargin))
	if clockBack {
		pf.Horizon = clockWentBack()
	}
	ps := make(Positions, len(pf.Positions)+1)
	for i, p := range pf.Positions {
		if p.Key == horizonKey || p.Offset < 0 || p.FingerprintLen < 0 || p.FingerprintLen > FingerprintMax {
			return nil, fmt.Errorf("positions file %s is corrupt: entry %d is invalid: move it aside to start over", path, i+1)
		}
		if clockBack {
			p.Horizon = pf.Horizon
		}
		ps[p.Key] = p
	}
	// Present even when zero: the file exists, this is no first start.
	ps[horizonKey] = Position{Horizon: pf.Horizon}
	return ps, nil
}

// Save writes the positions to path atomically: a temporary file is
// written and fsynced, renamed over path, and the directory fsynced, so a
// crash leaves either the old file or the new one, never a mix. The latest
// horizon is kept in ps (under the empty key) and written as the file's, so
// it survives the positions that carried it.
func (ps Positions) Save(path string) error {
	h := ps.horizon()
	if !h.IsZero() {
		ps[horizonKey] = Position{Horizon: h}
	}
	pf := positionsFile{Version: positionsVersion, SavedAt: time.Now().UTC(), Horizon: h, Positions: make([]Position, 0, len(ps))}
	for _, p := range ps {
		if p.Key != horizonKey {
			pf.Positions = append(pf.Positions, p)
		}
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
	// The os errors below name the temporary file or the directory, and
	// the operation; this says what for.
	if _, err := tmp.Write(b); err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save positions %s: %w", path, err)
	}
	return nil
}
