package reprice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/postgres"
)

var day0 = time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)

func priceTable(t *testing.T, prices ...parse.Price) *parse.PriceTable {
	t.Helper()
	pt, err := parse.NewPriceTable(prices)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// oldPrices were in force when the rows were written: no llama price.
func oldPrices(t *testing.T) *parse.PriceTable {
	return priceTable(t,
		parse.Price{Match: "gpt-4o-mini*", Input: "0.15", CachedInput: "0.075", Output: "0.6"},
		parse.Price{Match: "claude-*", Input: "3", Output: "15"},
	)
}

// newPrices changed gpt-4o-mini, dropped claude and added llama.
func newPrices(t *testing.T) *parse.PriceTable {
	return priceTable(t,
		parse.Price{Match: "gpt-4o-mini*", Input: "0.2", CachedInput: "0.1", Output: "0.8"},
		parse.Price{Match: "llama-*", Input: "0.05", Output: "0.1"},
	)
}

var models = []string{"gpt-4o-mini", "claude-sonnet-4", "llama-3-70b", "gpt-4o-mini"}

// records are priced with the old table, as the daemon would have; every
// fifth carries its cost in the log. They span five days (five partitions).
func records(t *testing.T, n int) []parse.Record {
	old := oldPrices(t)
	recs := make([]parse.Record, n)
	for i := range recs {
		r := parse.Record{
			EventID:           fmt.Sprintf("ev-%04d", i),
			OccurredAt:        day0.Add(time.Duration(i%5)*24*time.Hour + time.Duration(i)*time.Second),
			Source:            "api",
			Model:             models[i%4],
			InputTokens:       int64(1000 + i),
			CachedInputTokens: int64(i % 100),
			OutputTokens:      int64(200 + i%50),
			Success:           true,
			Attributes:        []byte(`{}`),
		}
		r.TotalTokens = r.InputTokens + r.OutputTokens
		if i%5 == 0 {
			r.Cost, r.CostSource = parse.Money(1_000_000_000+int64(i)), parse.CostFromLog
		} else if m, ok := old.Cost(&r); ok {
			r.Cost, r.CostSource = m, parse.CostPricing
		} else {
			r.CostSource = parse.CostUnpriced
		}
		recs[i] = r
	}
	return recs
}

func setup(t *testing.T, recs []parse.Record) *pgx.Conn {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	w, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

type stored struct {
	cost, source string
}

func snapshot(t *testing.T, conn *pgx.Conn) map[string]stored {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT event_id, cost_usd::text, cost_source FROM ai_usage_events")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]stored{}
	for rows.Next() {
		var id string
		var s stored
		if err := rows.Scan(&id, &s.cost, &s.source); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// expected is what every row should hold after repricing [since, until)
// with the new table.
func expected(t *testing.T, recs []parse.Record, since, until time.Time) (want map[string]stored, changed, newly, lost int64) {
	np := newPrices(t)
	want = map[string]stored{}
	for _, r := range recs {
		s := stored{r.Cost.String(), r.CostSource.String()}
		inRange := !r.OccurredAt.Before(since) && (until.IsZero() || r.OccurredAt.Before(until))
		if r.CostSource != parse.CostFromLog && inRange {
			n := stored{"0", "unpriced"}
			if m, ok := np.Cost(&r); ok {
				n = stored{m.String(), "pricing"}
			}
			if n != s {
				changed++
				switch {
				case s.source == "unpriced" && n.source == "pricing":
					newly++
				case s.source == "pricing" && n.source == "unpriced":
					lost++
				}
			}
			s = n
		}
		want[r.EventID] = s
	}
	return want, changed, newly, lost
}

func TestRun_RepricesTableRowsOnly(t *testing.T) {
	recs := records(t, 400)
	conn := setup(t, recs)
	ctx := context.Background()
	for _, batch := range []int{7, 0} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			if batch == 0 {
				// The second pass runs on what the first changed: idempotence.
				sum, err := Run(ctx, conn, Options{Since: day0, Prices: newPrices(t), BatchSize: batch})
				if err != nil {
					t.Fatal(err)
				}
				if sum.Changed != 0 || sum.Before != "0" || sum.After != "0" || len(sum.ByModel) != 0 {
					t.Errorf("second run: got %+v, want nothing changed", sum)
				}
				if got, want := sum.Scanned, int64(320); got != want {
					t.Errorf("second run scanned: got %d, want %d", got, want)
				}
				return
			}
			want, changed, newly, lost := expected(t, recs, day0, time.Time{})
			sum, err := Run(ctx, conn, Options{Since: day0, Prices: newPrices(t), BatchSize: batch})
			if err != nil {
				t.Fatal(err)
			}
			got := snapshot(t, conn)
			for id, w := range want {
				if got[id] != w {
					t.Errorf("%s: got %+v, want %+v", id, got[id], w)
				}
			}
			if sum.Changed != changed || sum.NewlyPriced != newly || sum.LostPrice != lost {
				t.Errorf("summary: got changed %d newly %d lost %d, want %d %d %d", sum.Changed, sum.NewlyPriced, sum.LostPrice, changed, newly, lost)
			}
			if newly == 0 || lost == 0 {
				t.Fatalf("the fixture must exercise both: newly %d lost %d", newly, lost)
			}
			// Before and After are the exact sums over the changed rows.
			var before, after parse.Money
			for _, r := range recs {
				if w := want[r.EventID]; r.CostSource != parse.CostFromLog && (w.source != r.CostSource.String() || w.cost != r.Cost.String()) {
					before += r.Cost
					m, _ := parse.ParseMoney(w.cost)
					after += m
				}
			}
			if sum.Before != before.String() || sum.After != after.String() {
				t.Errorf("money: got %s → %s, want %s → %s", sum.Before, sum.After, before, after)
			}
			var rows int64
			for _, m := range sum.ByModel {
				rows += m.Rows
				if m.Model == "claude-sonnet-4" && m.After != "0" {
					t.Errorf("claude after: got %s, want 0", m.After)
				}
			}
			if rows != changed {
				t.Errorf("rows by model: got %d, want %d", rows, changed)
			}
		})
	}
}

func TestRun_DryRunWritesNothing(t *testing.T) {
	recs := records(t, 100)
	conn := setup(t, recs)
	before := snapshot(t, conn)
	sum, err := Run(context.Background(), conn, Options{Since: day0, Prices: newPrices(t), DryRun: true, BatchSize: 9})
	if err != nil {
		t.Fatal(err)
	}
	_, changed, _, _ := expected(t, recs, day0, time.Time{})
	if sum.Changed != changed || !sum.DryRun {
		t.Errorf("dry run: got changed %d (dry %v), want %d", sum.Changed, sum.DryRun, changed)
	}
	after := snapshot(t, conn)
	for id, b := range before {
		if after[id] != b {
			t.Errorf("%s changed by a dry run: %+v → %+v", id, b, after[id])
		}
	}
}

func TestRun_RangeBounds(t *testing.T) {
	recs := records(t, 100)
	conn := setup(t, recs)
	since, until := day0.Add(24*time.Hour), day0.Add(3*24*time.Hour)
	if _, err := Run(context.Background(), conn, Options{Since: since, Until: until, Prices: newPrices(t), BatchSize: 4}); err != nil {
		t.Fatal(err)
	}
	want, _, _, _ := expected(t, recs, since, until)
	got := snapshot(t, conn)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %+v, want %+v", id, got[id], w)
		}
	}
}

// TestWrite_SkipsRowsChangedMeanwhile: a row changed between read and
// write (by a concurrent reprice) is left as found and counted as skipped.
func TestWrite_SkipsRowsChangedMeanwhile(t *testing.T) {
	recs := records(t, 20)
	conn := setup(t, recs)
	ctx := context.Background()
	page, err := readPage(ctx, conn, day0, farFuture, day0, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	changes := priceAgain(newPrices(t), page)
	if len(changes) < 2 {
		t.Fatalf("got %d changes, want at least 2", len(changes))
	}
	victim := changes[0].id
	if _, err := conn.Exec(ctx, "UPDATE ai_usage_events SET cost_usd = cost_usd + 1 WHERE event_id = $1", victim); err != nil {
		t.Fatal(err)
	}
	done, err := write(ctx, conn, changes)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(done), len(changes)-1; got != want {
		t.Errorf("applied: got %d, want %d", got, want)
	}
	for _, c := range done {
		if c.id == victim {
			t.Errorf("%s was changed meanwhile but written over", victim)
		}
	}
}

func TestRun_NoPricesIsAnError(t *testing.T) {
	if _, err := Run(context.Background(), nil, Options{Since: day0}); err == nil {
		t.Error("got nil error, want one for a missing pricing table")
	}
}

// failingBegin is a DB whose transactions fail after the first ok ones:
// reads work, the writes of later pages do not.
type failingBegin struct {
	*pgx.Conn
	ok int
}

func (f *failingBegin) Begin(ctx context.Context) (pgx.Tx, error) {
	if f.ok == 0 {
		return nil, errors.New("connection lost")
	}
	f.ok--
	return f.Conn.Begin(ctx)
}

// TestRun_ErrorReturnsWorkDone: when a page's write fails, Run returns the
// error and a summary of the pages done before it only, which the database
// agrees with.
func TestRun_ErrorReturnsWorkDone(t *testing.T) {
	recs := records(t, 40)
	conn := setup(t, recs)
	before := snapshot(t, conn)
	db := &failingBegin{Conn: conn, ok: 1}
	s, err := Run(context.Background(), db, Options{Since: day0, Prices: newPrices(t), BatchSize: 10})
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("error: got %v, want the write's", err)
	}
	if s == nil {
		t.Fatal("no summary with the error")
	}
	if s.Scanned != 10 {
		t.Errorf("scanned: got %d, want 10 (the one page done)", s.Scanned)
	}
	var changed int64
	after := snapshot(t, conn)
	for id, b := range before {
		if after[id] != b {
			changed++
		}
	}
	if s.Changed != changed || changed == 0 {
		t.Errorf("changed: summary says %d, the database %d (want the same, above 0)", s.Changed, changed)
	}
}
