package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tokentail/tokentail/internal/reprice"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/writers/postgres"
)

func TestReprice_Usage(t *testing.T) {
	noPricing := writeConfig(t, "postgres: {dsn: \"postgres://127.0.0.1:1/x\"}\n")
	cases := []struct {
		args []string
		want string
	}{
		{nil, "--since is required"},
		{[]string{"--since", "soon"}, "not a time"},
		{[]string{"--since", "2025-03-02", "--until", "2025-03-01"}, "must come after"},
		{[]string{"--since", "2025-03-01", "--batch-size", "0"}, "--batch-size 0"},
		{[]string{"--since", "2025-03-01", "--config", noPricing}, "needs the pricing table"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"reprice"}, c.args...)...)
			if code != 2 {
				t.Errorf("exit code: got %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr, c.want)
			}
		})
	}
}

// TestReprice_EndToEnd: a dry run changes nothing, the run changes what the
// dry run said, log-priced rows keep their cost, and a second run changes
// nothing and says so.
func TestReprice_EndToEnd(t *testing.T) {
	dsn := seedPostgres(t, reportRecords())
	// gpt-4o-mini doubles; llama-3 gets a price; gpt-4o rows carry their
	// cost in the log and must not move.
	cfg := writeConfig(t, fmt.Sprintf(`postgres: {dsn: %q}
pricing:
  models:
    - {match: "gpt-4o-mini*", input_per_mtok: 0.3, output_per_mtok: 1.2}
    - {match: "gpt-4o*", input_per_mtok: 99, output_per_mtok: 99}
    - {match: "llama-*", input_per_mtok: 0.1, output_per_mtok: 0.1}
`, dsn))
	costs := func() string {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var s string
		err = conn.QueryRow(context.Background(),
			`SELECT string_agg(event_id || '=' || cost_usd::text || '/' || cost_source, ' ' ORDER BY event_id) FROM ai_usage_events`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := costs()

	code, out, stderr := run(t, "reprice", "--config", cfg, "--since", "2025-03-01", "--dry-run")
	if code != 0 {
		t.Fatalf("dry run: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"3 would change (dry run: nothing written) (1 newly priced, 0 lost their price)", "0.00042 USD before, 0.00095 USD after (+0.00053)"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if got := costs(); got != before {
		t.Errorf("dry run changed rows:\n%s\n→\n%s", before, got)
	}

	// The rules leader listens for cost changes (it reads its history again).
	ctx := context.Background()
	listener, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close(ctx)
	if _, err := listener.Exec(ctx, "LISTEN "+postgres.ReseedChannel); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run(t, "reprice", "--config", cfg, "--since", "2025-03-01")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if n, err := listener.WaitForNotification(wctx); err != nil || n.Payload != "reprice" {
		t.Errorf("the rules leader was not told: %v %v", n, err)
	}
	cancel()
	if !strings.Contains(out, "3 changed (1 newly priced") || !strings.Contains(out, "gpt-4o-mini  2") {
		t.Errorf("run output:\n%s", out)
	}
	want := "a1=0.00042/pricing a2=0.00042/pricing b1=0.0035/log b2=12.345/log c1=0.00011/pricing"
	if got := costs(); got != want {
		t.Errorf("rows after reprice:\ngot  %s\nwant %s", got, want)
	}

	code, out, _ = run(t, "reprice", "--config", cfg, "--since", "2025-03-01")
	if code != 0 || !strings.Contains(out, ": 3 rows priced from the table or unpriced") || !strings.Contains(out, "nothing to change") {
		t.Errorf("second run: exit %d, output %q", code, out)
	}
}

// TestReprice_FailureIsNotSuccess: a reprice that stops on an error never
// says "nothing to change"; stdout stays empty and stderr says it stopped
// and what was done before.
func TestReprice_FailureIsNotSuccess(t *testing.T) {
	// A database without the table: the first read fails.
	cfg := writeConfig(t, fmt.Sprintf(`postgres: {dsn: %q}
pricing:
  models:
    - {match: "gpt-4o*", input_per_mtok: 1, output_per_mtok: 1}
`, testenv.PostgresDSN(t)))
	code, out, stderr := run(t, "reprice", "--config", cfg, "--since", "2025-03-01")
	if code != 1 {
		t.Errorf("exit code: got %d, want 1 (stderr %q)", code, stderr)
	}
	if out != "" {
		t.Errorf("stdout: got %q, want nothing for a failed run", out)
	}
	if strings.Contains(stderr, "nothing to change") || !strings.Contains(stderr, "stopped on an error; before it, 0 rows priced from the table or unpriced were read and none changed.") {
		t.Errorf("stderr: %q", stderr)
	}
}

// TestWriteRepriceSummary_Stopped: the summary of a run that failed part
// way says so, and what the batches before the error changed.
func TestWriteRepriceSummary_Stopped(t *testing.T) {
	opts := reprice.Options{Since: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	errStop := errors.New("connection lost")
	cases := []struct {
		name string
		s    reprice.Summary
		err  error
		want string
	}{
		{"nothing done", reprice.Summary{Scanned: 5000}, errStop,
			"reprice 2025-03-01 00:00 to now (UTC) stopped on an error; before it, 5000 rows priced from the table or unpriced were read and none changed.\n"},
		{"some done", reprice.Summary{Scanned: 5000, Changed: 2, NewlyPriced: 1, Before: "0.1", After: "0.3",
			ByModel: []reprice.ModelChange{{Model: "m", Rows: 2, NewlyPriced: 1, Before: "0.1", After: "0.3"}}}, errStop,
			"reprice 2025-03-01 00:00 to now (UTC) stopped on an error; before it, 5000 rows priced from the table or unpriced were read and 2 changed (1 newly priced, 0 lost their price); cost of those rows: 0.1 USD before, 0.3 USD after (+0.2)\n"},
		{"dry run", reprice.Summary{DryRun: true, Scanned: 10}, errStop,
			"stopped on an error; before it, 10 rows priced from the table or unpriced were read and none would change (dry run: nothing written).\n"},
		{"finished", reprice.Summary{Scanned: 7}, nil,
			"reprice 2025-03-01 00:00 to now (UTC): 7 rows priced from the table or unpriced; nothing to change: every cost already matches the pricing table.\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			writeRepriceSummary(&b, &c.s, opts, time.UTC, c.err)
			if !strings.Contains(b.String(), c.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", b.String(), c.want)
			}
			if c.err != nil && strings.Contains(b.String(), "nothing to change") {
				t.Errorf("a failed run says nothing to change:\n%s", b.String())
			}
		})
	}
}
