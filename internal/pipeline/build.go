// Package pipeline wires sources, the parser, the writers and the rules
// together. It is the only package that knows about all of them.
package pipeline

import (
	"fmt"
	"path/filepath"
	"sort"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/parse"
)

// PriceTable builds the parser's pricing table from the config; nil when the
// config has no pricing.
func PriceTable(cfg *config.Config) (*parse.PriceTable, error) {
	if cfg.Prices == nil {
		return nil, nil
	}
	prices := make([]parse.Price, len(cfg.Prices.Models))
	for i, m := range cfg.Prices.Models {
		prices[i] = parse.Price{
			Match:         m.Match,
			Provider:      m.Provider,
			Input:         m.InputPerMTok,
			CachedInput:   m.CachedInputPerMTok,
			Output:        m.OutputPerMTok,
			EffectiveFrom: m.EffectiveFrom,
		}
	}
	t, err := parse.NewPriceTable(prices)
	if err != nil {
		return nil, fmt.Errorf("pricing %s: %w", cfg.Prices.File, err)
	}
	return t, nil
}

// ParserConfig is the parse.Config of one source.
func ParserConfig(src *config.Source, prices *parse.PriceTable) parse.Config {
	labels := make([]parse.Label, 0, len(src.Labels))
	for k, v := range src.Labels {
		labels = append(labels, parse.Label{Key: k, Value: v})
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i].Key < labels[j].Key })
	return parse.Config{
		Source:       src.Name,
		Marker:       src.Marker,
		Match:        src.Match,
		Fields:       src.Fields,
		Labels:       labels,
		DropFields:   src.DropFields,
		MaxLineBytes: int(src.MaxLineBytes),
		Pricing:      prices,
	}
}

// Format is the parse.Format of a source.
func Format(src *config.Source) parse.Format {
	f, err := parse.ParseFormat(string(src.Format))
	if err != nil {
		return parse.FormatAuto // Validate has refused unknown formats already
	}
	return f
}

// SourceFor returns the source whose globs match path, else nil.
func SourceFor(cfg *config.Config, path string) *config.Source {
	abs, _ := filepath.Abs(path)
	for i := range cfg.Sources {
		for _, g := range cfg.Sources[i].Paths {
			if ok, _ := filepath.Match(g, path); ok {
				return &cfg.Sources[i]
			}
			if ok, _ := filepath.Match(g, abs); ok {
				return &cfg.Sources[i]
			}
		}
	}
	return nil
}
