package security

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/pipeline"
)

// loadConfig writes yaml to dir/tokentail.yaml (mode 0600) and loads it as the binary does.
func loadConfig(t *testing.T, dir, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "tokentail.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load config:\n%v\n%s", err, yaml)
	}
	return cfg
}

// lockedBuffer is a log sink the backfill's goroutines write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// backfillResult is what one backfill did and logged.
type backfillResult struct {
	Sum pipeline.Summary
	Log string // the JSON log at debug level
}

// backfill runs what `tokentail backfill --config cfg files...` runs, in process, with the
// log at debug level captured. It fails the test when the writers cannot be opened or the
// backfill returns an error.
func backfill(t *testing.T, cfg *config.Config, files ...string) backfillResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prices, err := pipeline.PriceTable(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := pipeline.OpenWriters(ctx, cfg, log)
	if err != nil {
		t.Fatalf("open writers: %v", err)
	}
	defer ws.Close()
	sum, err := pipeline.Backfill(ctx, pipeline.BackfillOptions{
		Config: cfg, Files: files, Writers: ws.List(), Prices: prices,
		BatchSize: 20000, Grace: cfg.ShutdownTimeout.D(), Logger: log,
	}, nil)
	if err != nil {
		t.Fatalf("backfill: %v\nlog:\n%s", err, logs.String())
	}
	return backfillResult{Sum: sum, Log: logs.String()}
}

// normalLine is an ordinary record, the n-th of a file: the kind that must keep flowing
// around hostile lines.
func normalLine(tag string, n int) string {
	return fmt.Sprintf(`2025-06-01 12:00:00 INFO AI_COST: {"request_id":"%s-%d","timestamp":"2025-06-01T12:%02d:%02dZ","model":"gpt-4o-mini","provider":"openai","feature":"quiz","user_id":"u%d","input_tokens":%d,"output_tokens":%d,"cost_usd":0.00%d,"duration_ms":%d}`,
		tag, n, n/60%60, n%60, n%7, 100+n, 10+n, 100+n, 200+n)
}

// writeLines writes lines (each ended by \n) to dir/name and returns the path.
func writeLines(t *testing.T, dir, name string, lines []string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pgConn connects to dsn for the test's own queries; closed in t.Cleanup.
func pgConn(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
