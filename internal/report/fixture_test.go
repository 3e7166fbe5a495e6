package report

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/postgres"
)

// fixtureStart is the first day of the fixed data: six days of March 2025.
var fixtureStart = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// fixtureRecords are fixed, varied records: several features (one absent),
// models, providers, users (some absent), attributes (some absent), errors,
// missing durations, unpriced rows, sub-cent and large costs.
func fixtureRecords() []parse.Record {
	features := []string{"chat", "search", "summarize", ""}
	models := []struct{ model, provider string }{
		{"gpt-4o-mini", "openai"}, {"gpt-4o", "openai"}, {"claude-sonnet-4", "anthropic"}, {"llama-3-70b", ""},
	}
	schools := []string{"north", "south", "east"}
	var recs []parse.Record
	for i := range 60 {
		m := models[(i/2)%4]
		r := parse.Record{
			EventID:      fmt.Sprintf("fx-%03d", i),
			OccurredAt:   fixtureStart.Add(time.Duration(i%6)*24*time.Hour + time.Duration((i*7)%24)*time.Hour + time.Duration(i)*time.Minute),
			Source:       []string{"api", "worker"}[i%2],
			Feature:      features[i%4],
			Model:        m.model,
			Provider:     m.provider,
			InputTokens:  int64(100 + i*37),
			OutputTokens: int64(20 + i*11),
			Success:      i%7 != 3,
		}
		r.CachedInputTokens = int64(i%3) * 20
		r.TotalTokens = r.InputTokens + r.OutputTokens
		if i%11 != 0 {
			r.UserID = fmt.Sprintf("user-%02d", (i*5)%9)
		}
		if !r.Success {
			r.ErrorType = []string{"rate_limit", "timeout"}[i%2]
		}
		if i%13 != 0 {
			r.DurationMS, r.HasDuration = float64(200+(i*131)%2000)+0.25, true
		}
		switch {
		case m.model == "llama-3-70b":
			r.CostSource = parse.CostUnpriced
		case i%5 == 0:
			r.Cost, r.CostSource = 4_200_000_000, parse.CostFromLog // $0.0042
		default:
			r.Cost, r.CostSource = parse.Money(r.InputTokens*150_000+r.OutputTokens*600_000+int64(i)), parse.CostPricing
		}
		if i == 17 {
			r.Cost, r.CostSource = 1234_567_890_123_456, parse.CostFromLog // $1234.567890123456
		}
		school := ""
		if i%5 != 4 {
			school = fmt.Sprintf(`"school":%q,`, schools[i%3])
		}
		r.Attributes = []byte(fmt.Sprintf(`{%s"plan":%q}`, school, []string{"free", "pro"}[i%2]))
		recs = append(recs, r)
	}
	return recs
}

// fixtureDB returns a pool on a fresh database holding fixtureRecords.
func fixtureDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return seedDB(t, fixtureRecords())
}

// seedDB returns a pool on a fresh database holding recs, written as the
// daemon writes them.
func seedDB(t *testing.T, recs []parse.Record) *pgxpool.Pool {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("open writer: %v", err)
	}
	defer w.Close()
	res, err := w.Write(ctx, recs)
	if err != nil {
		t.Fatalf("write fixture: %v", err)
	}
	if got, want := res.Inserted, len(recs); got != want {
		t.Fatalf("fixture rows inserted: got %d, want %d", got, want)
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
