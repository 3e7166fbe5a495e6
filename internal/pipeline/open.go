package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/writers/influx"
	"github.com/tokentail/tokentail/writers/postgres"
)

// Writers are the configured writers, opened.
type Writers struct {
	Postgres *postgres.Writer // nil when the config has no postgres section
	Influx   *influx.Writer   // nil when the config has no influxdb section
}

// List returns the writers as pipeline Writers, PostgreSQL first.
func (w *Writers) List() []Writer {
	var out []Writer
	if w.Postgres != nil {
		out = append(out, Postgres{W: w.Postgres})
	}
	if w.Influx != nil {
		out = append(out, Influx{W: w.Influx})
	}
	return out
}

// Close closes every writer; it is safe to call twice.
func (w *Writers) Close() {
	if w.Postgres != nil {
		w.Postgres.Close()
	}
	if w.Influx != nil {
		w.Influx.Close()
	}
}

// OpenWriters connects to the configured servers; PostgreSQL's schema is
// created or migrated on the way.
func OpenWriters(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Writers, error) {
	w := &Writers{}
	if pg := cfg.Postgres; pg != nil {
		pw, err := postgres.Open(ctx, postgres.Config{
			DSN:       pg.DSN.Reveal(),
			MaxConns:  int32(pg.MaxConns),
			Retention: pg.Retention.D(),
			Logger:    log.With("component", "postgres"),
		})
		if err != nil {
			return nil, err // postgres.Open's errors name it already
		}
		w.Postgres = pw
	}
	if ix := cfg.InfluxDB; ix != nil {
		tlsCfg, err := ix.TLS.ClientConfig()
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("influxdb tls: %w", err)
		}
		iw, err := influx.New(influx.Config{
			URL:     ix.URL,
			Token:   ix.Token.Reveal(),
			Org:     ix.Org,
			Bucket:  ix.Bucket,
			Timeout: ix.Timeout.D(),
			UserTag: ix.UserTag,
			TLS:     tlsCfg,
			Logger:  log.With("component", "influxdb"),
		})
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("influxdb: %w", err)
		}
		w.Influx = iw
	}
	return w, nil
}
