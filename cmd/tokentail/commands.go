package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/pipeline"
)

// commands are the subcommands dispatched by name beyond the built-in ones.
func (m *Main) commands() map[string]func(context.Context, []string) error {
	return map[string]func(context.Context, []string) error{
		"backfill": m.runBackfill,
		"run":      m.runRun,
		"rules":    m.runRules,
		"report":   m.runReport,
		"reprice":  m.runReprice,
	}
}

// checkServers reaches each configured server and says, per server, whether
// it works. Opening the PostgreSQL writer also checks (and creates or
// migrates) the schema, as the daemon would at start.
func (m *Main) checkServers(ctx context.Context, cfg *config.Config) error {
	quiet := slog.New(slog.DiscardHandler)
	failed := 0
	if cfg.Postgres != nil {
		one := *cfg
		one.InfluxDB = nil
		ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		ws, err := pipeline.OpenWriters(ctx, &one, quiet)
		if err == nil {
			err = ws.Postgres.Ping(ctx)
			ws.Close()
		}
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(m.Stdout, "postgres %s: FAILED: %v\n", config.RedactDSN(cfg.Postgres.DSN.Reveal()), err)
		} else {
			fmt.Fprintf(m.Stdout, "postgres %s: ok (schema up to date)\n", config.RedactDSN(cfg.Postgres.DSN.Reveal()))
		}
	}
	if cfg.InfluxDB != nil {
		one := *cfg
		one.Postgres = nil
		ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		ws, err := pipeline.OpenWriters(ctx, &one, quiet)
		if err == nil {
			err = ws.Influx.Ping(ctx)
			ws.Close()
		}
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(m.Stdout, "influxdb %s bucket %s: FAILED: %v\n", config.RedactDSN(cfg.InfluxDB.URL), cfg.InfluxDB.Bucket, err)
		} else {
			fmt.Fprintf(m.Stdout, "influxdb %s bucket %s: ok\n", config.RedactDSN(cfg.InfluxDB.URL), cfg.InfluxDB.Bucket)
		}
	}
	if failed > 0 {
		return errors.New("some configured servers cannot be reached (see above)")
	}
	return nil
}
