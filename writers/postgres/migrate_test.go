package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tokentail/tokentail/internal/testenv"
)

func TestOpen_CreatesSchema(t *testing.T) {
	w, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"ai_usage_events", "ai_usage_rejects", "tokentail_schema_migrations"} {
		if got := queryString(t, conn, "SELECT to_regclass($1)::text", table); got != table {
			t.Errorf("table %s: got %s, want it to exist", table, got)
		}
	}
	if got := queryString(t, conn, "SELECT max(version)::text FROM tokentail_schema_migrations"); got != strconv.Itoa(len(ms)) {
		t.Errorf("schema version: got %s, want %d", got, len(ms))
	}
	if got := queryString(t, conn, "SELECT partstrat::text FROM pg_partitioned_table WHERE partrelid = 'ai_usage_events'::regclass"); got != "r" {
		t.Errorf("ai_usage_events partition strategy: got %s, want r (range)", got)
	}

	t.Run("reopen is a no-op", func(t *testing.T) {
		w.Close()
		w.Close() // idempotent
		_, _ = openTest(t, Config{DSN: dsn})
		if got := queryString(t, conn, "SELECT count(*)::text FROM tokentail_schema_migrations"); got != strconv.Itoa(len(ms)) {
			t.Errorf("migration rows after reopen: got %s, want %d", got, len(ms))
		}
	})
}

func TestOpen_Concurrent(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			w, err := Open(ctx, Config{DSN: dsn})
			errs[i] = err
			if err == nil {
				w.Close()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
		}
	}
	conn := connect(t, dsn)
	ms, _ := loadMigrations(migrationFS)
	if got := queryString(t, conn, "SELECT count(*)::text FROM tokentail_schema_migrations"); got != strconv.Itoa(len(ms)) {
		t.Errorf("migration rows: got %s, want %d", got, len(ms))
	}
}

func TestOpen_SchemaTooNew(t *testing.T) {
	_, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	if _, err := conn.Exec(context.Background(), "INSERT INTO tokentail_schema_migrations (version, name) VALUES (99, 'future')"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Open(ctx, Config{DSN: dsn})
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) {
		t.Fatalf("Open: got %v, want a SchemaTooNewError", err)
	}
	ms, _ := loadMigrations(migrationFS)
	want := "database schema version 99 is newer than this tokentail (knows " + strconv.Itoa(len(ms)) + "): upgrade tokentail"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error: got %q, want it to contain %q", err, want)
	}
}

func TestLoadMigrations_Names(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		wantErr bool
	}{
		{"in order", []string{"0001_a.sql", "0002_b.sql"}, false},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, true},
		{"no number", []string{"init.sql"}, true},
		{"zero", []string{"0000_a.sql"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1")}
			}
			_, err := loadMigrations(fsys)
			if got := err != nil; got != tt.wantErr {
				t.Errorf("error: got %v, want error %v", err, tt.wantErr)
			}
		})
	}
}
