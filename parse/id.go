package parse

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// derivedID appends to dst a stable id for a line that carries none: a hash of
// the line's bytes as they stand in the file and of its byte offset. The path
// is left out on purpose, so the same line read live and later from its rotated
// or gzipped copy gets the same id; the offset tells two identical lines of one
// file apart. scratch is reused to avoid an allocation per line.
func derivedID(dst, scratch []byte, raw []byte, offset int64) (id, scratchOut []byte) {
	scratch = binary.BigEndian.AppendUint64(scratch[:0], uint64(offset))
	scratch = append(scratch, raw...)
	sum := sha256.Sum256(scratch)
	return hex.AppendEncode(dst, sum[:16]), scratch
}
