// Package reprice recomputes the cost of stored rows after the pricing
// table changed.
//
// Only rows whose cost came from the table are touched: cost_source
// 'pricing', and 'unpriced' rows, which become 'pricing' when a price now
// matches them. A 'pricing' row that no price matches any more becomes
// 'unpriced' with cost 0, exactly what ingesting it today would store; its
// tokens are kept, so running reprice again after the price is restored
// brings the cost back. Rows whose cost came from the log are never read
// for writing, let alone changed.
//
// Rows are walked in primary-key order ((occurred_at, event_id), which is
// also partition order) in pages, and each page's changes are written by
// one UPDATE in its own short transaction: the daemons' inserts are never
// blocked for longer than one page, and an interrupted run leaves every
// finished page done. An UPDATE only changes a row that still holds the
// cost and source it was read with, so two reprices at once, or one racing
// a writer, count nothing twice. Running it again changes nothing.
package reprice

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokentail/tokentail/parse"
)

// DefaultBatchSize is how many rows one page reads and one UPDATE may change.
const DefaultBatchSize = 5000

// DB is what reprice runs on: a *pgx.Conn or a *pgxpool.Pool.
type DB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Options says what to reprice.
type Options struct {
	// Since and Until bound occurred_at: Since <= occurred_at < Until.
	// A zero Until means no upper bound.
	Since, Until time.Time
	// Prices is the pricing table in force. Required.
	Prices *parse.PriceTable
	// BatchSize is the page size; 0 is DefaultBatchSize.
	BatchSize int
	// DryRun computes the changes without writing them.
	DryRun bool
	// Progress, when set, is called after each page with the summary so far.
	Progress func(*Summary)
}

// Summary says what a run changed (or, with DryRun, would change).
type Summary struct {
	DryRun bool
	// Scanned counts the rows read in the pages done: those priced from
	// the table or unpriced. A page whose write failed is not counted.
	Scanned int64
	// Changed counts rows whose cost or cost source changed.
	Changed int64
	// NewlyPriced counts unpriced rows a price now matches; LostPrice counts
	// rows priced before that no price matches any more.
	NewlyPriced, LostPrice int64
	// Skipped counts rows that changed between being read and being
	// written (another reprice ran at the same time); they are left as found.
	Skipped int64
	// Before and After total the cost of the changed rows, exact, in USD.
	Before, After string
	// ByModel details the changes per model, most changed money first.
	ByModel []ModelChange

	before, after *big.Int // picodollars
	models        map[string]*ModelChange
}

// ModelChange is the part of a Summary that concerns one model.
type ModelChange struct {
	Model                  string
	Rows                   int64
	NewlyPriced, LostPrice int64
	// Before and After total the cost of the changed rows, exact, in USD.
	Before, After string

	before, after *big.Int
}

// row is one row read for repricing.
type row struct {
	at       time.Time
	id       string
	model    string
	provider string
	in       int64
	cached   int64
	out      int64
	costText string // as stored, for the UPDATE's guard
	cost     parse.Money
	source   string
}

// change is a row's new cost.
type change struct {
	row
	newCost   parse.Money
	newSource string
}

const selectPage = `SELECT occurred_at, event_id, model, coalesce(provider, ''),
	input_tokens, cached_input_tokens, output_tokens, cost_usd::text, cost_source
FROM ai_usage_events
WHERE occurred_at >= $1 AND occurred_at < $2 AND (occurred_at, event_id) > ($3, $4)
	AND cost_source IN ('pricing', 'unpriced')
ORDER BY occurred_at, event_id
LIMIT $5`

// updatePage changes the rows that still hold what was read. The bounds on
// occurred_at let PostgreSQL prune to the one or two daily partitions the
// page lies in.
const updatePage = `UPDATE ai_usage_events AS e
SET cost_usd = v.cost, cost_source = v.src
FROM unnest($1::timestamptz[], $2::text[], $3::numeric[], $4::text[], $5::numeric[], $6::text[])
	WITH ORDINALITY AS v(at, id, cost, src, old_cost, old_src, i)
WHERE e.occurred_at >= $7 AND e.occurred_at <= $8
	AND e.occurred_at = v.at AND e.event_id = v.id
	AND e.cost_source IN ('pricing', 'unpriced')
	AND e.cost_source = v.old_src AND e.cost_usd = v.old_cost
RETURNING v.i`

// farFuture stands for "no upper bound" in the page query.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Run reprices the rows of the range. It returns the summary of the pages
// done, also when it fails or ctx ends part way: with an error, the summary
// is what was done before the failure, never a finished run.
func Run(ctx context.Context, db DB, opts Options) (*Summary, error) {
	if opts.Prices == nil {
		return nil, errors.New("reprice: no pricing table")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	until := opts.Until
	if until.IsZero() {
		until = farFuture
	}
	s := &Summary{DryRun: opts.DryRun, before: new(big.Int), after: new(big.Int), models: map[string]*ModelChange{}}
	defer s.finish()
	cursorAt, cursorID := opts.Since, ""
	for {
		page, err := readPage(ctx, db, opts.Since, until, cursorAt, cursorID, opts.BatchSize)
		if err != nil {
			return s, err
		}
		if len(page) == 0 {
			return s, nil
		}
		last := page[len(page)-1]
		cursorAt, cursorID = last.at, last.id
		changes := priceAgain(opts.Prices, page)
		done := changes
		if !opts.DryRun && len(changes) > 0 {
			if done, err = write(ctx, db, changes); err != nil {
				// The page's transaction rolled back: the summary
				// counts the pages done before it, and nothing of it.
				return s, err
			}
			s.Skipped += int64(len(changes) - len(done))
		}
		s.Scanned += int64(len(page))
		for i := range done {
			s.add(&done[i])
		}
		s.finish()
		if opts.Progress != nil {
			opts.Progress(s)
		}
		if len(page) < opts.BatchSize {
			return s, nil
		}
	}
}

func readPage(ctx context.Context, db DB, since, until, at time.Time, id string, limit int) ([]row, error) {
	rows, err := db.Query(ctx, selectPage, since, until, at, id, limit)
	if err != nil {
		return nil, fmt.Errorf("read rows to reprice: %w", err)
	}
	defer rows.Close()
	var page []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.at, &r.id, &r.model, &r.provider, &r.in, &r.cached, &r.out, &r.costText, &r.source); err != nil {
			return nil, fmt.Errorf("read rows to reprice: %w", err)
		}
		if r.cost, err = parse.ParseMoney(r.costText); err != nil {
			return nil, fmt.Errorf("row %s at %s: cost_usd %q: %w", r.id, r.at.Format(time.RFC3339Nano), r.costText, err)
		}
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rows to reprice: %w", err)
	}
	return page, nil
}

// priceAgain prices each row with the current table, as the parser would
// price the record today, and returns the rows whose cost or source differ.
func priceAgain(prices *parse.PriceTable, page []row) []change {
	var out []change
	var rec parse.Record
	for _, r := range page {
		rec.Model, rec.Provider, rec.OccurredAt = r.model, r.provider, r.at
		rec.InputTokens, rec.CachedInputTokens, rec.OutputTokens = r.in, r.cached, r.out
		c := change{row: r, newSource: parse.CostUnpriced.String()}
		if m, ok := prices.Cost(&rec); ok {
			c.newCost, c.newSource = m, parse.CostPricing.String()
		}
		if c.newCost != r.cost || c.newSource != r.source {
			out = append(out, c)
		}
	}
	return out
}

// write applies one page's changes in one transaction and returns those
// that were applied.
func write(ctx context.Context, db DB, changes []change) ([]change, error) {
	n := len(changes)
	ats, ids := make([]time.Time, n), make([]string, n)
	costs, srcs, oldCosts, oldSrcs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	lo, hi := changes[0].at, changes[0].at
	for i, c := range changes {
		ats[i], ids[i] = c.at, c.id
		costs[i], srcs[i] = c.newCost.String(), c.newSource
		oldCosts[i], oldSrcs[i] = c.costText, c.source
		if c.at.Before(lo) {
			lo = c.at
		}
		if c.at.After(hi) {
			hi = c.at
		}
	}
	var applied []change
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, updatePage, ats, ids, costs, srcs, oldCosts, oldSrcs, lo, hi)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var i int64
			if err := rows.Scan(&i); err != nil {
				return err
			}
			applied = append(applied, changes[i-1])
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("update %d rows between %s and %s: %w", n, lo.Format(time.RFC3339), hi.Format(time.RFC3339), err)
	}
	return applied, nil
}

func (s *Summary) add(c *change) {
	s.Changed++
	m := s.models[c.model]
	if m == nil {
		m = &ModelChange{Model: c.model, before: new(big.Int), after: new(big.Int)}
		s.models[c.model] = m
	}
	m.Rows++
	switch {
	case c.source == "unpriced" && c.newSource == "pricing":
		s.NewlyPriced++
		m.NewlyPriced++
	case c.source == "pricing" && c.newSource == "unpriced":
		s.LostPrice++
		m.LostPrice++
	}
	b, a := big.NewInt(int64(c.cost)), big.NewInt(int64(c.newCost))
	s.before.Add(s.before, b)
	s.after.Add(s.after, a)
	m.before.Add(m.before, b)
	m.after.Add(m.after, a)
}

// finish fills the exported totals from the exact sums.
func (s *Summary) finish() {
	s.Before, s.After = picoText(s.before), picoText(s.after)
	s.ByModel = s.ByModel[:0]
	for _, m := range s.models {
		m.Before, m.After = picoText(m.before), picoText(m.after)
		s.ByModel = append(s.ByModel, *m)
	}
	sort.Slice(s.ByModel, func(i, j int) bool {
		a, b := &s.ByModel[i], &s.ByModel[j]
		da := new(big.Int).Abs(new(big.Int).Sub(a.after, a.before))
		db := new(big.Int).Abs(new(big.Int).Sub(b.after, b.before))
		if c := da.Cmp(db); c != 0 {
			return c > 0
		}
		return a.Model < b.Model
	})
}

// picoText writes an exact count of picodollars as dollars: "0.0002", "12".
func picoText(p *big.Int) string {
	if p == nil {
		return "0"
	}
	r := new(big.Rat).SetFrac(p, big.NewInt(1_000_000_000_000))
	s := r.FloatString(parse.MoneyScale)
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}
