package bench

import "bytes"

// KeptMarker starts the part of BENCHMARKS.md that is written by hand
// (figures no single `make bench` run produces, such as the report on ten
// million rows): a run replaces everything above the marker and keeps the
// marker and everything below it.
const KeptMarker = "<!-- Written by hand below this line: make bench keeps it. -->"

// Kept returns the hand-written tail of an earlier BENCHMARKS.md, from the
// marker line to the end, or nil when old has no marker.
func Kept(old []byte) []byte {
	i := bytes.Index(old, []byte(KeptMarker))
	if i < 0 || (i > 0 && old[i-1] != '\n') {
		return nil
	}
	return old[i:]
}
