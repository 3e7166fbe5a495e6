package config

import (
	"fmt"
	"os"
	"path"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pricing is a table of list prices, in the order written: the first entry
// whose glob matches a model wins (among entries in force at the record's time).
type Pricing struct {
	File     string       `yaml:"-"` // where the table was read, for messages
	Currency string       `yaml:"currency"`
	Models   []PriceEntry `yaml:"models"`
}

func (p *Pricing) setDefaults() { p.Currency = DefaultCurrency }

// PriceEntry is one row of a pricing table. Prices are in the currency per
// million tokens, kept as the exact decimal text written in the file
// ("0.075"), never as a float: the parse package converts them to Money.
type PriceEntry struct {
	// Match is a glob (path.Match syntax) on the model name.
	Match string `yaml:"match"`
	// Provider, when set, limits the entry to that provider's records.
	Provider     string `yaml:"provider,omitempty"`
	InputPerMTok string `yaml:"input_per_mtok" cfg:"decimal"`
	// CachedInputPerMTok is the price of cache-read input tokens; after
	// loading it holds InputPerMTok when the file sets none.
	CachedInputPerMTok string `yaml:"cached_input_per_mtok,omitempty" cfg:"decimal"`
	OutputPerMTok      string `yaml:"output_per_mtok" cfg:"decimal"`
	// EffectiveFrom is when the price starts to apply; zero means always.
	EffectiveFrom time.Time `yaml:"effective_from,omitempty"`
	// Line is where the entry starts in its file, for messages.
	Line int `yaml:"-"`
}

func (e *PriceEntry) decodeNode(d *decoder, n *yaml.Node, path string) {
	e.Line = n.Line
	d.decodeStruct(n, path, reflect.ValueOf(e).Elem())
}

// MarshalYAML writes prices as plain numbers and dates as YYYY-MM-DD, as
// they are written in a pricing file.
func (e PriceEntry) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	// Prices and dates go untagged, so they print plain and read back as the
	// numbers and dates they are; names are !!str so "true" stays quoted.
	add := func(k, v, tag string) {
		if v == "" {
			return
		}
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: k},
			&yaml.Node{Kind: yaml.ScalarNode, Value: v, Tag: tag})
	}
	add("match", e.Match, "!!str")
	add("provider", e.Provider, "!!str")
	add("input_per_mtok", e.InputPerMTok, "")
	add("cached_input_per_mtok", e.CachedInputPerMTok, "")
	add("output_per_mtok", e.OutputPerMTok, "")
	if !e.EffectiveFrom.IsZero() {
		v := e.EffectiveFrom.Format(time.RFC3339)
		if e.EffectiveFrom.Equal(e.EffectiveFrom.Truncate(24 * time.Hour)) {
			v = e.EffectiveFrom.Format(time.DateOnly)
		}
		add("effective_from", v, "")
	}
	return n, nil
}

// LoadPricing reads and validates a pricing file. Every problem is returned
// at once as an *Error naming file:line and key path.
func LoadPricing(path string) (*Pricing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pricing: %w", err)
	}
	return ParsePricing(path, data)
}

// ParsePricing is LoadPricing on data already read; name is used in messages.
// Pricing files are not ${VAR}-expanded: they hold no secrets.
func ParsePricing(name string, data []byte) (*Pricing, error) {
	p := &Pricing{File: name}
	p.setDefaults()
	d := newDecoder(name, nil)
	if root := d.parseDocument(data); root != nil {
		d.decode(root, "", reflect.ValueOf(p).Elem())
	}
	probs := d.probs
	v := &validator{file: name, pos: d.pos}
	v.currency("currency", p.Currency)
	if len(p.Models) == 0 && !underAny("models", d.probs) {
		v.add("models", "no prices: list at least one model")
	}
	v.prices("models", p.Models)
	for _, q := range v.probs {
		if !underAny(q.Key, d.probs) {
			probs = append(probs, q)
		}
	}
	if err := errorOf(probs); err != nil {
		return nil, err
	}
	fillCachedPrices(p.Models)
	return p, nil
}

func fillCachedPrices(models []PriceEntry) {
	for i := range models {
		if models[i].CachedInputPerMTok == "" {
			models[i].CachedInputPerMTok = models[i].InputPerMTok
		}
	}
}

// prices checks a list of price entries written at key.
func (v *validator) prices(key string, models []PriceEntry) {
	for i, e := range models {
		k := fmt.Sprintf("%s[%d]", key, i)
		if e.Match == "" {
			v.add(k+".match", "required: a glob on the model name, e.g. \"gpt-4o-mini*\"")
		} else if _, err := path.Match(e.Match, ""); err != nil {
			v.add(k+".match", "invalid glob %q: %v", e.Match, err)
		}
		if e.InputPerMTok == "" {
			v.add(k+".input_per_mtok", "required: the price of a million input tokens")
		}
		if e.OutputPerMTok == "" {
			v.add(k+".output_per_mtok", "required: the price of a million output tokens")
		}
		if e.Match == "" {
			continue
		}
		// An entry that an earlier one always matches first is dead, and
		// almost always a general glob put above a specific one.
		for j := range i {
			f := models[j]
			if f.EffectiveFrom.Equal(e.EffectiveFrom) && (f.Provider == "" || strings.EqualFold(f.Provider, e.Provider)) && globCovers(f.Match, e.Match) {
				what := "is never used"
				if f.Match == e.Match {
					what = "repeats"
				}
				v.add(k+".match", "%q %s: %s[%d] (line %d) %q matches first; put the more specific glob first",
					e.Match, what, key, j, f.Line, f.Match)
				break
			}
		}
	}
}

// globCovers reports whether every name matched by later is also matched by
// earlier, for the globs price tables use: later being a literal name or a
// prefix followed by one "*". It errs on the side of silence.
func globCovers(earlier, later string) bool {
	for i := 0; i < len(later); i++ {
		switch later[i] {
		case '?', '[', '\\':
			return false
		case '*':
			if i != len(later)-1 {
				return false
			}
		}
	}
	if strings.HasSuffix(later, "*") && !strings.HasSuffix(earlier, "*") {
		return false // "gpt-4o?" matches the text "gpt-4o*", not every name it stands for
	}
	ok, err := path.Match(earlier, later)
	return err == nil && ok
}
