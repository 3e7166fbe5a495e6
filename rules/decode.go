package rules

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tokentail/tokentail/internal/config"
)

// decoder walks a rules file's yaml.Node tree. Like internal/config it is
// strict (an unknown key is a problem naming its key path) and keeps every
// problem, not only the first, each with its line and column.
type decoder struct {
	file   string
	getenv func(string) (string, bool)
	probs  []config.Problem
}

func (d *decoder) problem(n *yaml.Node, key, format string, args ...any) {
	p := config.Problem{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.probs = append(d.probs, p)
}

func (d *decoder) err() error {
	if len(d.probs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.probs, func(a, b config.Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return &config.Error{Problems: d.probs}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument reads data as one YAML document; nil when empty or broken.
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		p := config.Problem{File: d.file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = "invalid YAML: " + m[2]
		}
		d.probs = append(d.probs, p)
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return "a single value"
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields calls fn for each key of mapping n, reporting keys not in known
// (with a suggestion) and keys given twice.
func (d *decoder) fields(n *yaml.Node, path string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "expected a mapping of keys, got %s", kindName(n))
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		key := k.Value
		if seen[key] {
			d.problem(k, join(path, key), "given twice")
			continue
		}
		seen[key] = true
		if known != nil && !slices.Contains(known, key) {
			d.problem(k, join(path, key), "unknown key%s", config.Suggest(key, known))
			continue
		}
		fn(key, k, v)
	}
	return true
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n, path, "expected a single value, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		d.problem(n, path, "has no value")
		return "", false
	}
	return n.Value, true
}

func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := config.ParseDuration(s)
	if err != nil {
		d.problem(n, path, "%v", err)
		return 0, false
	}
	return v.D(), true
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	d.problem(n, path, "expected true or false, got %q", clip(s))
	return false, false
}

func (d *decoder) integer(n *yaml.Node, path string, min int64) (int64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		d.problem(n, path, "expected a whole number, got %q", clip(s))
		return 0, false
	}
	if i < min {
		d.problem(n, path, "must be at least %d, got %d", min, i)
		return 0, false
	}
	return i, true
}

// number reads a threshold: a plain number, or a percentage ("3%" is 0.03).
func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	t, pct := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(strings.ReplaceAll(t, "_", ""), 64)
	if err != nil || f != f || f > 1e300 || f < -1e300 {
		d.problem(n, path, "expected a number like 80, 0.03 or 3%%, got %q", clip(s))
		return 0, false
	}
	if pct {
		f /= 100
	}
	return f, true
}

func (d *decoder) strList(n *yaml.Node, path string) ([]string, bool) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return []string{n.Value}, true // group_by: feature
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "expected a list, got %s", kindName(n))
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		s, good := d.str(resolve(c), fmt.Sprintf("%s[%d]", path, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// strMap reads a mapping of names to single values, in file order.
func (d *decoder) strMap(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node, val string)) {
	d.fields(n, path, nil, func(key string, k, v *yaml.Node) {
		if s, ok := d.str(v, join(path, key)); ok {
			fn(key, k, v, s)
		}
	})
}

// clip shortens text quoted in messages.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
