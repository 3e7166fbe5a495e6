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

// suggest returns ` (did you mean "x"?)` when one of known is close to got.
func suggest(got string, known []string) string {
	best, bestDist := "", 1<<30
	lg := strings.ToLower(got)
	for _, k := range known {
		d := levenshtein(lg, strings.ToLower(k))
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

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
