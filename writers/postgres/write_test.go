package postgres

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

func TestWriter_Write(t *testing.T) {
	w, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	ctx := context.Background()
	const n = 5000
	recs := makeRecords(n, time.Now(), 3, 1)
	wantSum := sumMoney(recs).String()

	res, err := w.Write(ctx, recs)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := (Result{Inserted: n}); res != want {
		t.Errorf("Result: got %+v, want %+v", res, want)
	}
	rows, distinct, sum := counts(t, conn)
	if rows != n || distinct != n {
		t.Errorf("rows: got count %d, distinct %d, want %d", rows, distinct, n)
	}
	if sum != wantSum {
		t.Errorf("sum(cost_usd): got %s, want %s", sum, wantSum)
	}

	t.Run("same batch again adds nothing", func(t *testing.T) {
		res, err := w.Write(ctx, recs)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if want := (Result{Duplicates: n}); res != want {
			t.Errorf("Result: got %+v, want %+v", res, want)
		}
		rows, distinct, sum := counts(t, conn)
		if rows != n || distinct != n || sum != wantSum {
			t.Errorf("after rewrite: got %d rows, %d distinct, sum %s; want %d, %d, %s", rows, distinct, sum, n, n, wantSum)
		}
	})

	t.Run("mixed new and present", func(t *testing.T) {
		fresh := makeRecords(300, time.Now(), 3, 2)
		mixed := append(append([]parse.Record{}, recs[:700]...), fresh...)
		res, err := w.Write(ctx, mixed)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if want := (Result{Inserted: 300, Duplicates: 700}); res != want {
			t.Errorf("Result: got %+v, want %+v", res, want)
		}
		rows, distinct, sum := counts(t, conn)
		wantSum := (sumMoney(recs) + sumMoney(fresh)).String()
		if rows != n+300 || distinct != n+300 || sum != wantSum {
			t.Errorf("got %d rows, %d distinct, sum %s; want %d, %d, %s", rows, distinct, sum, n+300, n+300, wantSum)
		}
	})

	t.Run("duplicates inside one batch", func(t *testing.T) {
		fresh := makeRecords(10, time.Now(), 1, 3)
		twice := append(append([]parse.Record{}, fresh...), fresh...)
		res, err := w.Write(ctx, twice)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if want := (Result{Inserted: 10, Duplicates: 10}); res != want {
			t.Errorf("Result: got %+v, want %+v", res, want)
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		res, err := w.Write(ctx, nil)
		if err != nil || res != (Result{}) {
			t.Errorf("Write(nil): got %+v, %v; want zero result, nil", res, err)
		}
	})
}

func TestWriter_Values(t *testing.T) {
	w, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	at := time.Date(2025, 3, 4, 5, 6, 7, 891234567, time.UTC)
	full := parse.Record{
		EventID: "full", OccurredAt: at, Source: "api", UserID: "u1", Feature: "quiz",
		Provider: "openai", Model: "gpt-4o-mini", InputTokens: 812, CachedInputTokens: 12,
		OutputTokens: 96, TotalTokens: 908, Cost: mustMoney(t, "0.0002"), CostSource: parse.CostFromLog,
		DurationMS: 123.5, HasDuration: true, Success: false, ErrorType: "timeout",
		Attributes: []byte(`{"plan":"pro","service":"from-log"}`),
		Labels:     []parse.Label{{Key: "service", Value: "quiz-api"}, {Key: "team", Value: "ml \"core\""}},
	}
	empty := parse.Record{
		EventID: "empty", OccurredAt: at, Source: "api", Model: "m",
		CostSource: parse.CostUnpriced, Success: true, Attributes: []byte(`{}`),
	}
	if _, err := w.Write(context.Background(), []parse.Record{full, empty}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	const cols = `concat_ws('|', occurred_at AT TIME ZONE 'UTC', source, coalesce(user_id, 'NULL'),
		coalesce(feature, 'NULL'), coalesce(provider, 'NULL'), model, input_tokens, cached_input_tokens,
		output_tokens, total_tokens, cost_usd, cost_source, coalesce(duration_ms::text, 'NULL'), success,
		coalesce(error_type, 'NULL'), attributes, ingested_at IS NOT NULL)`
	tests := []struct {
		id, want string
	}{
		{"full", `2025-03-04 05:06:07.891234|api|u1|quiz|openai|gpt-4o-mini|812|12|96|908|0.0002|log|123.5|f|timeout|{"plan": "pro", "team": "ml \"core\"", "service": "from-log"}|t`},
		{"empty", `2025-03-04 05:06:07.891234|api|NULL|NULL|NULL|m|0|0|0|0|0|unpriced|NULL|t|NULL|{}|t`},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := queryString(t, conn, "SELECT "+cols+" FROM ai_usage_events WHERE event_id = $1", tt.id); got != tt.want {
				t.Errorf("row:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestWriter_CostExact(t *testing.T) {
	w, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	amounts := []string{"0", "0.000000000001", "0.0002", "0.00015", "1", "12", "12.5", "10000",
		"0.123456789012", "1234.0001", "9223372.036854775807"}
	var recs []parse.Record
	for i, a := range amounts {
		recs = append(recs, parse.Record{
			EventID: "c" + a, OccurredAt: time.Now(), Source: "s", Model: "m",
			Cost: mustMoney(t, a), Attributes: []byte(`{}`), Offset: int64(i),
		})
	}
	if _, err := w.Write(context.Background(), recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	for _, a := range amounts {
		t.Run(a, func(t *testing.T) {
			if got := queryString(t, conn, "SELECT cost_usd::text FROM ai_usage_events WHERE event_id = $1", "c"+a); got != a {
				t.Errorf("cost_usd: got %s, want %s", got, a)
			}
		})
	}
}

func TestWriter_Refused(t *testing.T) {
	w, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	ctx := context.Background()
	recs := makeRecords(200, time.Now(), 1, 7)
	recs[13].Attributes = []byte(`{"cut":`) // jsonb the server refuses
	recs[77].Model = "gpt\x00-4o"           // NUL: text cannot hold it
	recs[150].InputTokens = -5              // check constraint
	recs[151].Feature = "bad \xff utf8"     // invalid UTF-8
	recs[199].EventID = noise(9000)         // index row too large (54000)
	const bad = 5
	wantSum := sumMoney(recs) - recs[13].Cost - recs[77].Cost - recs[150].Cost - recs[151].Cost - recs[199].Cost

	res, err := w.Write(ctx, recs)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := (Result{Inserted: len(recs) - bad, Refused: bad}); res != want {
		t.Errorf("Result: got %+v, want %+v", res, want)
	}
	rows, _, sum := counts(t, conn)
	if rows != int64(len(recs)-bad) || sum != wantSum.String() {
		t.Errorf("events: got %d rows, sum %s; want %d, %s", rows, sum, len(recs)-bad, wantSum)
	}
	if got := queryString(t, conn, "SELECT count(*)::text FROM ai_usage_rejects WHERE reason = 'server_refused'"); got != "5" {
		t.Errorf("refused rejects: got %s, want 5", got)
	}
	detail := queryString(t, conn, "SELECT detail FROM ai_usage_rejects WHERE reject_id LIKE '%:'||$1", recs[150].EventID)
	if !strings.Contains(detail, "check constraint") || !strings.Contains(detail, "23514") {
		t.Errorf("detail of the check violation: got %q, want the server's message and SQLSTATE", detail)
	}

	t.Run("again with duplicates", func(t *testing.T) {
		res, err := w.Write(ctx, recs)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if want := (Result{Duplicates: len(recs) - bad, Refused: bad}); res != want {
			t.Errorf("Result: got %+v, want %+v", res, want)
		}
		if got := queryString(t, conn, "SELECT count(*)::text FROM ai_usage_rejects"); got != "5" {
			t.Errorf("rejects after rewrite: got %s, want 5", got)
		}
		if rows, _, _ := counts(t, conn); rows != int64(len(recs)-bad) {
			t.Errorf("rows after rewrite: got %d, want %d", rows, len(recs)-bad)
		}
	})
}

func mustMoney(t testing.TB, s string) parse.Money {
	t.Helper()
	m, err := parse.ParseMoney(s)
	if err != nil {
		t.Fatalf("ParseMoney(%q): %v", s, err)
	}
	return m
}

// noise returns n characters that do not compress, so that the server cannot
// shrink them below its index row limit.
func noise(n int) string {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('!' + rng.IntN(94))
	}
	return string(b)
}
