package testenv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN creates an empty database for this test on the harness cluster and returns its
// DSN (superuser role tokentail, trust authentication). The database is dropped in t.Cleanup,
// connections that are still open included.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := getenv(t, EnvPostgresDSN)
	name := uniqueName(t)
	ident := pgx.Identifier{name}.Sanitize()
	if err := pgExec(base, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// WITH (FORCE): a test that forgot to close its pool must not fail its neighbours'
		// cleanup or leave the database behind.
		if err := pgExec(base, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("testenv: %s: %v", EnvPostgresDSN, err)
	}
	return dsn
}

func pgExec(dsn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to the harness PostgreSQL (is it running? %s): %w", startHint, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return err
	}
	return nil
}

// withDatabase returns dsn pointing at database name; dsn is a URL or key=value pairs.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse dsn: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// In key=value form the last dbname wins.
	return dsn + " dbname=" + name, nil
}
