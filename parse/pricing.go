package parse

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// Price is one row of the pricing table, in dollars per million tokens.
type Price struct {
	// Match is a glob on the model name without its provider prefix.
	Match string
	// Provider, when set, limits the row to records of that provider.
	Provider string
	// Input, CachedInput and Output are prices per million tokens, given as
	// exact decimal text ("0.15"); at most 6 decimal places.
	Input, CachedInput, Output string
	// EffectiveFrom is when the price starts to apply; zero means always.
	EffectiveFrom time.Time
}

// rate is a price in picodollars per token, which equals micro-dollars per
// million tokens: an exact integer for any price with at most 6 decimals.
type rate int64

type priceRow struct {
	from                  time.Time
	input, cached, output rate
}

type priceGroup struct {
	match    string
	provider string
	rows     []priceRow // by from, newest first
}

// PriceTable prices records that carry no cost. It is read-only after
// NewPriceTable and safe for concurrent use.
type PriceTable struct {
	groups []priceGroup // in file order: the first glob that matches wins
}

// NewPriceTable checks the prices and builds the table.
func NewPriceTable(prices []Price) (*PriceTable, error) {
	t := &PriceTable{}
	index := map[string]int{}
	for i, pr := range prices {
		if _, err := path.Match(pr.Match, ""); err != nil || pr.Match == "" {
			return nil, fmt.Errorf("price %d: match %q is not a valid glob", i+1, pr.Match)
		}
		in, err := parseRate(pr.Input)
		if err != nil {
			return nil, fmt.Errorf("price %d (%s): input_per_mtok: %w", i+1, pr.Match, err)
		}
		out, err := parseRate(pr.Output)
		if err != nil {
			return nil, fmt.Errorf("price %d (%s): output_per_mtok: %w", i+1, pr.Match, err)
		}
		cached := in
		if pr.CachedInput != "" {
			if cached, err = parseRate(pr.CachedInput); err != nil {
				return nil, fmt.Errorf("price %d (%s): cached_input_per_mtok: %w", i+1, pr.Match, err)
			}
		}
		key := pr.Match + "\x00" + strings.ToLower(pr.Provider)
		g, ok := index[key]
		if !ok {
			g = len(t.groups)
			index[key] = g
			t.groups = append(t.groups, priceGroup{match: pr.Match, provider: strings.ToLower(pr.Provider)})
		}
		t.groups[g].rows = append(t.groups[g].rows, priceRow{from: pr.EffectiveFrom, input: in, cached: cached, output: out})
	}
	for _, g := range t.groups {
		sort.SliceStable(g.rows, func(i, j int) bool { return g.rows[i].from.After(g.rows[j].from) })
	}
	return t, nil
}

func parseRate(s string) (rate, error) {
	m, err := ParseMoney(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	if m%1_000_000 != 0 {
		return 0, fmt.Errorf("%q has more than 6 decimal places", s)
	}
	if m > maxRate*1_000_000 {
		return 0, fmt.Errorf("%q is above the largest price tokentail accepts (%d per million tokens)", s, maxRate/1_000_000)
	}
	return rate(m / 1_000_000), nil
}

// maxRate caps a price ($2000 per million tokens) so that a record's cost
// (tokens capped at MaxTokens) cannot overflow Money.
const maxRate = 2000 * 1_000_000

// Cost prices rec from its model, tokens and time. ok is false when no row
// matches the model at that time.
func (t *PriceTable) Cost(rec *Record) (Money, bool) {
	return t.costFrom(t.firstGroup(rec.Model, rec.Provider), rec)
}

// firstGroup is the index of the first glob that matches model, or -1.
// Parsers cache it per model name: globbing is the slow part of pricing.
func (t *PriceTable) firstGroup(model, provider string) int {
	for i, g := range t.groups {
		if g.matches(model, provider) {
			return i
		}
	}
	return -1
}

func (g *priceGroup) matches(model, provider string) bool {
	if g.provider != "" && !strings.EqualFold(g.provider, provider) {
		return false
	}
	ok, _ := path.Match(g.match, model)
	return ok
}

func (t *PriceTable) costFrom(group int, rec *Record) (Money, bool) {
	if group < 0 {
		return 0, false
	}
	row, ok := t.lookup(group, rec.Model, rec.Provider, rec.OccurredAt)
	if !ok {
		return 0, false
	}
	// (input − cached)·input + cached·cached_input + output·output. Token
	// counts are capped at MaxTokens (1e9) and rates at a few 1e9 picodollars,
	// so each product stays far inside int64.
	uncached := rec.InputTokens - rec.CachedInputTokens
	c := int64(uncached)*int64(row.input) + rec.CachedInputTokens*int64(row.cached) + rec.OutputTokens*int64(row.output)
	return Money(c), true
}

func (t *PriceTable) lookup(group int, model, provider string, at time.Time) (priceRow, bool) {
	for i := group; i < len(t.groups); i++ {
		g := &t.groups[i]
		if i > group && !g.matches(model, provider) {
			continue
		}
		for _, r := range g.rows {
			if !r.from.After(at) {
				return r, true
			}
		}
	}
	return priceRow{}, false
}
