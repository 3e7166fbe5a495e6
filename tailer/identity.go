package tailer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// FileKey names one file for as long as it is followed, whatever its name
// becomes. Its format is "<dev>:<inode>:<fp>": the device and inode in
// decimal, then 16 hex digits of the SHA-256 of the file's first bytes when
// the follower first saw it (at most FingerprintMax of them; none for an
// empty file). When that would repeat a key still in use or recently let go
// (a truncated file rewritten with the same first bytes, an inode reused by a
// file that starts alike), "#n" is appended. A key is issued once: a file
// resumed from a saved Position keeps that position's key. Treat it as opaque.
type FileKey string

const (
	// FingerprintMax is how many leading bytes a fingerprint covers at most.
	// 1 KiB reaches past a typical header line into the first records, so
	// rotated files of one application are still told apart.
	FingerprintMax = 1024
	// FingerprintMin is how many bytes a fingerprint must cover before it
	// alone, without device and inode, may recognise a file: a compressed
	// rotation, a copy, a file moved to another filesystem. Shorter prefixes
	// (an empty file, a lone header line) are too alike to trust.
	FingerprintMin = 64
)

// devIno is a file's device and inode: what makes it the same file.
type devIno struct{ dev, ino uint64 }

// fingerprint is the hash of a file's first n bytes.
type fingerprint struct {
	sum string // 16 hex digits
	n   int
}

func fingerprintOf(b []byte) fingerprint {
	if len(b) > FingerprintMax {
		b = b[:FingerprintMax]
	}
	s := sha256.Sum256(b)
	return fingerprint{sum: hex.EncodeToString(s[:8]), n: len(b)}
}

// matches says whether head, the first bytes of a file, starts with the
// bytes fp was taken of.
func (fp fingerprint) matches(head []byte) bool {
	if len(head) < fp.n {
		return false
	}
	return fingerprintOf(head[:fp.n]).sum == fp.sum
}

// readHead reads up to FingerprintMax bytes from the start of r.
func readHead(r io.Reader) ([]byte, error) {
	buf := make([]byte, FingerprintMax)
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		err = nil
	}
	return buf[:n], err
}

// readHeadAt reads up to FingerprintMax bytes from the start of r without
// moving a file's read offset, so it is safe while another goroutine reads.
func readHeadAt(r io.ReaderAt, size int64) ([]byte, error) {
	n := min(size, FingerprintMax)
	buf := make([]byte, n)
	m, err := r.ReadAt(buf, 0)
	if err == io.EOF {
		err = nil
	}
	return buf[:m], err
}

// identity is what a Line says about its file. It is immutable: when the
// fingerprint grows, the follower makes a new one, so a Line handed out
// earlier keeps a consistent view.
type identity struct {
	key  FileKey
	id   devIno
	fp   fingerprint
	real string // the symlink target, "" when the path is no link
}

func baseKey(id devIno, fp fingerprint) FileKey {
	return FileKey(fmt.Sprintf("%d:%d:%s", id.dev, id.ino, fp.sum))
}
