package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Advisory lock keys, fixed forever: daemons of different versions must agree
// on them. Arbitrary constants sharing a prefix, unlikely to meet another
// application's keys in the same database.
const (
	lockMigrate   int64 = 0x1d5d1e7c9a2b4f01
	lockPartition int64 = 0x1d5d1e7c9a2b4f02
	lockRetention int64 = 0x1d5d1e7c9a2b4f03
)

// migration is one embedded SQL file, NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, sorted by version.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	paths, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, p := range paths {
		base := strings.TrimSuffix(p[len("migrations/"):], ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", p)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", p, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := range ms {
		if ms[i].version != i+1 {
			return nil, fmt.Errorf("migration %d_%s: versions must run 1, 2, 3... without gaps", ms[i].version, ms[i].name)
		}
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, each in its own
// transaction. A session advisory lock serializes daemons starting together:
// the second waits, then finds nothing left to do.
func (w *Writer) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		return err
	}
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockMigrate); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		// If the unlock fails the connection is broken, and the server
		// releases session locks of a closed connection.
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockMigrate)
	}()

	const create = `CREATE TABLE IF NOT EXISTS tokentail_schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`
	if _, err := conn.Exec(ctx, create); err != nil {
		return fmt.Errorf("create tokentail_schema_migrations: %w", err)
	}
	var current int
	err = conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM tokentail_schema_migrations").Scan(&current)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if known := len(ms); current > known {
		return &SchemaTooNewError{Database: current, Known: known}
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO tokentail_schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %d_%s: %w", m.version, m.name, err)
		}
		w.log.Info("postgres schema migrated", "version", m.version, "name", m.name)
	}
	return nil
}

// SchemaTooNewError is returned by Open when the database was migrated by a
// newer tokentail: writing with an old binary could corrupt what the new one
// relies on.
type SchemaTooNewError struct {
	Database, Known int
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("database schema version %d is newer than this tokentail (knows %d): upgrade tokentail", e.Database, e.Known)
}
