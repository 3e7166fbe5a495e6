package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/influx"
	"github.com/tokentail/tokentail/writers/postgres"
)

// testRecords are two days of calls every ten minutes across models, features and users,
// with failures, calls without a duration, cached input and one unpriced call: enough for
// every panel to find something.
func testRecords(from time.Time) []parse.Record {
	models := []struct{ model, provider string }{
		{"gpt-4o-mini", "openai"}, {"gpt-4o", "openai"}, {"claude-sonnet-4", "anthropic"},
	}
	features := []string{"quiz", "chat", "summarize", ""}
	users := []string{"u-1", "u-2", "u-3", "u-4", ""}
	var recs []parse.Record
	for i := range 2 * 24 * 6 {
		m := models[i%len(models)]
		in := int64(500 + i*7%1500)
		out := int64(50 + i*13%400)
		r := parse.Record{
			EventID:      fmt.Sprintf("deploy-test-%04d", i),
			OccurredAt:   from.Add(time.Duration(i) * 10 * time.Minute),
			Source:       "api",
			Model:        m.model,
			Provider:     m.provider,
			Feature:      features[i%len(features)],
			UserID:       users[i%len(users)],
			InputTokens:  in,
			OutputTokens: out,
			TotalTokens:  in + out,
			Cost:         parse.Money(in*150_000 + out*600_000), // picodollars: $0.15 and $0.60 per Mtok
			CostSource:   parse.CostFromLog,
			DurationMS:   float64(300 + i*37%2000),
			HasDuration:  i%11 != 0,
			Success:      i%9 != 0,
			Attributes:   []byte("{}"),
		}
		if i%3 == 0 {
			r.CachedInputTokens = in / 4
		}
		if !r.Success {
			r.ErrorType = "rate_limit"
		}
		if i == 5 {
			r.Cost, r.CostSource = 0, parse.CostUnpriced
		}
		recs = append(recs, r)
	}
	return recs
}

// TestDashboards_QueriesRunOnRealServers runs every panel query of every dashboard, expanded
// as Grafana would, against the harness PostgreSQL and InfluxDB holding records written by
// tokentail's writers. Each must run and find at least one row with a value in it.
func TestDashboards_QueriesRunOnRealServers(t *testing.T) {
	qs := queries(t)
	dsn := testenv.PostgresDSN(t)
	it := testenv.Influx(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	r := TimeRange{
		From:     time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		To:       time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC),
		Interval: time.Hour,
	}
	recs := testRecords(r.From)

	pw, err := postgres.Open(ctx, postgres.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("open postgres writer: %v", err)
	}
	defer pw.Close()
	if res, err := pw.Write(ctx, recs); err != nil || res.Inserted != len(recs) {
		t.Fatalf("postgres write: %+v, %v; want %d inserted", res, err, len(recs))
	}
	rej := parse.Reject{ID: "deploy-test-reject", Source: "api", File: "/var/log/app/app.log", Offset: 42,
		Reason: parse.ReasonNotJSON, Detail: "not JSON", Raw: []byte("AI_COST: {oops"), At: r.From.Add(time.Hour)}
	if err := pw.WriteRejects(ctx, []parse.Reject{rej}); err != nil {
		t.Fatalf("postgres write rejects: %v", err)
	}

	// UserTag: the InfluxDB dashboard's per-user panel needs it (and says so).
	iw, err := influx.New(influx.Config{URL: it.URL, Org: it.Org, Bucket: it.Bucket, Token: it.Token, UserTag: true})
	if err != nil {
		t.Fatalf("influx writer: %v", err)
	}
	defer iw.Close()
	if res, err := iw.Write(ctx, recs); err != nil || res.Written != len(recs) {
		t.Fatalf("influx write: %+v, %v; want %d written", res, err, len(recs))
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// ai_alerts comes from the writer's migrations, as in production.
	if _, err := conn.Exec(ctx, `INSERT INTO ai_alerts (rule, severity, state, value, threshold, labels, fingerprint, starts_at, at) VALUES
		('daily-budget', 'warning', 'firing', 84.2, 80, '{"feature":"quiz"}', 42, '2025-06-01T12:00:00Z', '2025-06-01T12:00:00Z'),
		('daily-budget', 'warning', 'resolved', 12.5, 80, '{"feature":"quiz"}', 42, '2025-06-01T12:00:00Z', '2025-06-02T00:00:00Z')`); err != nil {
		t.Fatalf("insert ai_alerts: %v", err)
	}

	for _, q := range qs {
		t.Run(q.File+"/"+q.Panel+"/"+q.RefID, func(t *testing.T) {
			text, err := expand(q, r)
			if err != nil {
				t.Fatalf("expand: %v", err)
			}
			var rows, filled int
			switch q.Type {
			case typePostgres:
				rows, filled = runSQL(ctx, t, conn, text)
			case typeInflux:
				for _, s := range it.Query(t, text) {
					for _, row := range s.Values {
						rows++
						if rowHasValue(s.Columns, row) {
							filled++
						}
					}
				}
			}
			if filled == 0 {
				t.Errorf("got %d rows and none with a value, want at least one; query:\n%s", rows, text)
			}
		})
	}
}

// runSQL runs a query and counts its rows, and those with a value besides the time.
func runSQL(ctx context.Context, t *testing.T, conn *pgx.Conn, sql string) (rows, filled int) {
	t.Helper()
	res, err := conn.Query(ctx, sql)
	if err != nil {
		t.Fatalf("query: %v\n%s", err, sql)
	}
	defer res.Close()
	var cols []string
	for _, fd := range res.FieldDescriptions() {
		cols = append(cols, fd.Name)
	}
	for res.Next() {
		vals, err := res.Values()
		if err != nil {
			t.Fatalf("values: %v", err)
		}
		rows++
		if rowHasValue(cols, vals) {
			filled++
		}
	}
	if err := res.Err(); err != nil {
		t.Fatalf("query: %v\n%s", err, sql)
	}
	return rows, filled
}

// rowHasValue reports whether a column other than the time holds something: a non-zero
// number, a non-empty string. Zeros do not count, so a panel whose filter matches nothing
// (a sum that is 0 or NULL in every bucket) fails the test.
func rowHasValue(cols []string, vals []any) bool {
	for i, v := range vals {
		if i < len(cols) && cols[i] == "time" {
			continue
		}
		switch v := v.(type) {
		case nil:
		case string:
			if v != "" {
				return true
			}
		case json.Number:
			if f, err := v.Float64(); err == nil && f != 0 {
				return true
			}
		case float64:
			if v != 0 {
				return true
			}
		case int64:
			if v != 0 {
				return true
			}
		case int32:
			if v != 0 {
				return true
			}
		case pgtype.Numeric:
			if v.Valid && v.Int != nil && v.Int.Sign() != 0 {
				return true
			}
		default:
			return true
		}
	}
	return false
}
