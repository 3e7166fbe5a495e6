package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong in a config or pricing file, located by
// file:line:column and by the key path inside the document
// (e.g. "sources[0].format").
type Problem struct {
	File   string
	Line   int // 1-based; 0 when the problem has no place in the file
	Column int // 1-based; 0 when unknown
	Key    string
	Msg    string
}

// String formats p as "file:line:col: key: message".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Column))
		}
	}
	b.WriteString(": ")
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error is every problem found in a config or pricing file. Its message has
// one problem per line, in file order, so the first line alone is a complete
// sentence naming where the file is at fault.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// errorOf returns nil for no problems, else an *Error holding them in file order.
func errorOf(probs []Problem) error {
	if len(probs) == 0 {
		return nil
	}
	slices.SortStableFunc(probs, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &Error{Problems: probs}
}

// Pos is a place in a YAML file.
type Pos struct {
	Line, Column int
}

// Suggest returns ` (did you mean "x"?)` when one of known is close to got,
// else "". The config and rules files share it.
func Suggest(got string, known []string) string {
	best, bestDist := "", 1<<30
	lg := strings.ToLower(got)
	for _, k := range known {
		d := editDistance(lg, strings.ToLower(k))
		if d < bestDist {
			best, bestDist = k, d
		}
	}
	// A third of the word may be wrong, at least one letter, at most three.
	limit := min(max(len(got)/3, 1), 3)
	if best == "" || bestDist > limit {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two neighbours ("dns" for "dsn")
// each count as one edit.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
