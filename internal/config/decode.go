package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree into Go values by their `yaml` struct tags.
// It is stricter than yaml.v3's own decoder and says more: an unknown key
// anywhere is a problem naming its full key path, every problem is kept
// (not only the first), and ${VAR} is expanded inside scalar values before
// they are typed, so `batch_size: ${BATCH}` works.
//
// Tag options beyond yaml's: `cfg:"nonnull"` refuses a key written with no
// value (where null and "" would mean different things), `cfg:"decimal"`
// requires a plain non-negative decimal of at most 6 fractional digits.
type decoder struct {
	file   string
	getenv func(string) (string, bool) // nil: no expansion (pricing files)
	probs  []Problem
	pos    map[string]Pos
	// literal records, for each Secret's key path, whether its value was
	// written in the file itself rather than taken from the environment.
	literal map[string]bool
}

func newDecoder(file string, getenv func(string) (string, bool)) *decoder {
	return &decoder{file: file, getenv: getenv, pos: map[string]Pos{"": {1, 1}}, literal: map[string]bool{}}
}

// scalarDecoder is a type read from one scalar's (expanded) text.
type scalarDecoder interface {
	decodeScalar(s string) error
}

// nodeDecoder is a type that walks its own node.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// defaulter sets a value's defaults before YAML is decoded over it.
type defaulter interface {
	setDefaults()
}

var (
	secretType = reflect.TypeFor[Secret]()
	timeType   = reflect.TypeFor[time.Time]()
)

func (d *decoder) problem(n *yaml.Node, key, format string, args ...any) {
	p := Problem{File: d.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.probs = append(d.probs, p)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseDocument reads data as exactly one YAML document. A syntax error is
// returned as a Problem with its line; nil, nil means an empty document.
func (d *decoder) parseDocument(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.syntaxProblem(data, err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.problem(&extra, "", "a second YAML document (after ---) is not allowed; keep one document per file")
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.syntaxProblem(data, err)
		return nil
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) syntaxProblem(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: d.file, Msg: "invalid YAML: " + msg}
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = "invalid YAML: " + m[2]
		// yaml.v3 may name the line where the block began rather than the
		// tab itself: point at the first line indented with a tab.
		lines := strings.Split(string(data), "\n")
		for i := p.Line - 1; i >= 0 && i < len(lines) && i < p.Line+2; i++ {
			indent := lines[i][:len(lines[i])-len(strings.TrimLeft(lines[i], " \t"))]
			if strings.Contains(indent, "\t") {
				p.Line = i + 1
				p.Msg += " (YAML does not allow tabs for indentation; use spaces)"
				break
			}
		}
	}
	d.probs = append(d.probs, p)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

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

// scalar returns n's text with ${VAR} expanded, or false after recording a problem.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.problem(n, path, "expected a single value, got %s", kindName(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	if d.getenv == nil || n.Tag != "!!str" {
		return n.Value, true
	}
	v, err := Expand(n.Value, d.getenv)
	if err != nil {
		d.problem(n, path, "%v", err)
		return "", false
	}
	return v, true
}

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value) {
	n = resolve(n)
	if v.CanAddr() {
		switch u := v.Addr().Interface().(type) {
		case nodeDecoder:
			u.decodeNode(d, n, path)
			return
		case scalarDecoder:
			s, ok := d.scalar(n, path)
			if !ok {
				return
			}
			if v.Type() == secretType {
				d.literal[path] = !strings.Contains(n.Value, "${")
			}
			if isNull(n) {
				if v.Type() != secretType { // `token:` alone is an empty secret
					d.problem(n, path, "has no value")
				}
				return
			}
			if err := u.decodeScalar(s); err != nil {
				d.problem(n, path, "%v", err)
			}
			return
		}
	}
	if v.Type() == timeType {
		d.decodeTime(n, path, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			nv := reflect.New(v.Type().Elem())
			if def, ok := nv.Interface().(defaulter); ok {
				def.setDefaults()
			}
			v.Set(nv)
		}
		if isNull(n) {
			return // `postgres:` alone: the section is on, with its defaults
		}
		d.decode(n, path, v.Elem())
	case reflect.Struct:
		d.decodeStruct(n, path, v)
	case reflect.Slice:
		d.decodeSlice(n, path, v)
	case reflect.Map:
		d.decodeMap(n, path, v)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			d.problem(n, path, "expected a whole number, got %q", clip(s))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.problem(n, path, "expected a number such as 0.92, got %q", clip(s))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			d.problem(n, path, "expected true or false, got %q", clip(s))
		}
	default:
		panic("config: cannot decode into " + v.Type().String())
	}
}

func (d *decoder) decodeTime(n *yaml.Node, path string, v reflect.Value) {
	s, ok := d.scalar(n, path)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil {
		d.problem(n, path, "invalid date %q; write YYYY-MM-DD or an RFC 3339 time like 2025-06-10T00:00:00Z", clip(s))
		return
	}
	v.Set(reflect.ValueOf(t))
}

type fieldInfo struct {
	index   int
	nonnull bool
	decimal bool
}

// fieldsOf maps each yaml key of struct type t to its field.
func fieldsOf(t reflect.Type) (map[string]fieldInfo, []string) {
	m := map[string]fieldInfo{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		opt := f.Tag.Get("cfg")
		m[name] = fieldInfo{index: i, nonnull: opt == "nonnull", decimal: opt == "decimal"}
		names = append(names, name)
	}
	return m, names
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "expected a mapping of keys, got %s", kindName(n))
		return
	}
	fields, names := fieldsOf(v.Type())
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problem(k, path, "a key must be a plain word, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.problem(k, path, "merge keys (<<) are not supported; repeat the keys instead")
			continue
		}
		key := k.Value
		kp := join(path, key)
		if first, dup := seen[key]; dup {
			d.problem(k, kp, "duplicate key; it was first set at line %d", first.Line)
			continue
		}
		seen[key] = k
		fi, ok := fields[key]
		if !ok {
			d.problem(k, kp, "unknown key%s", Suggest(key, names))
			continue
		}
		d.pos[kp] = Pos{k.Line, k.Column}
		if fi.nonnull && isNull(resolve(val)) {
			d.problem(val, kp, "has no value; write %s: \"\" for an empty value, or remove the key to get the default", key)
			continue
		}
		fv := v.Field(fi.index)
		d.decode(val, kp, fv)
		if fi.decimal && fv.Kind() == reflect.String && fv.String() != "" {
			if err := checkDecimal(fv.String()); err != nil {
				d.problem(resolve(val), kp, "%v", err)
				fv.SetString("")
			}
		}
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		item = resolve(item)
		d.pos[ip] = Pos{item.Line, item.Column}
		e := s.Index(i)
		if def, ok := e.Addr().Interface().(defaulter); ok {
			def.setDefaults()
		}
		d.decode(item, ip, e)
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, path string, v reflect.Value) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String || v.Type().Elem().Kind() != reflect.String {
		panic("config: only map[string]string is supported, not " + v.Type().String())
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			d.problem(k, path, "a key must be a plain value, got %s", kindName(k))
			continue
		}
		kp := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			d.problem(k, kp, "duplicate key; it was first set at line %d", line)
			continue
		}
		seen[k.Value] = k.Line
		d.pos[kp] = Pos{k.Line, k.Column}
		s, ok := d.scalar(val, kp)
		if !ok {
			continue
		}
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), reflect.ValueOf(s).Convert(v.Type().Elem()))
	}
	v.Set(m)
}

// checkDecimal accepts the plain decimals prices are written in: "0.075",
// "15", "2.50". Exponents and more than 6 fractional digits are refused so
// the text converts exactly to picodollars per token.
func checkDecimal(s string) error {
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("price %q must not be negative", clip(s))
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !isDigits(intPart) || (hasPoint && !isDigits(frac)) {
		return fmt.Errorf("price %q is not a plain decimal number like 0.15 or 2.50", clip(s))
	}
	if len(frac) > 6 {
		return fmt.Errorf("price %q has more than 6 decimal places", clip(s))
	}
	whole := strings.TrimLeft(intPart, "0")
	if n, err := strconv.Atoi(whole); len(whole) > 4 || (err == nil && (n > maxPrice || n == maxPrice && strings.Trim(frac, "0") != "")) {
		return fmt.Errorf("price %q is above the largest price tokentail accepts (%d per million tokens)", clip(s), maxPrice)
	}
	return nil
}

// maxPrice per million tokens is the parse package's cap, which keeps a
// record's cost inside its int64 of picodollars.
const maxPrice = 2000
