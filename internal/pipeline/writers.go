package pipeline

import (
	"context"
	"fmt"

	"github.com/tokentail/tokentail/writers/influx"
	"github.com/tokentail/tokentail/writers/postgres"
)

// Writer stores batches durably: Write returns only once the batch is
// written (or will never be: refused rows are counted), retrying transient
// failures itself until ctx ends.
type Writer interface {
	Name() string
	Write(ctx context.Context, b *Batch) (WriteResult, error)
}

// WriteResult counts what a writer made of one batch.
type WriteResult struct {
	Written    int // new rows or points
	Duplicates int // already stored by an earlier run
	Refused    int // refused by the server for good (counted, logged, and for PostgreSQL kept as rejects)
	Rejects    int // reject rows written
}

// Postgres adapts a postgres.Writer: records to ai_usage_events, rejects to
// ai_usage_rejects.
type Postgres struct{ W *postgres.Writer }

// Name implements Writer.
func (Postgres) Name() string { return "postgres" }

// Write implements Writer.
func (p Postgres) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	var res WriteResult
	if len(b.Records) > 0 {
		r, err := p.W.Write(ctx, b.Records)
		if err != nil {
			return res, err // the writer's errors say "postgres:" already
		}
		res.Written, res.Duplicates, res.Refused = r.Inserted, r.Duplicates, r.Refused
	}
	if len(b.Rejects) > 0 {
		if err := p.W.WriteRejects(ctx, b.Rejects); err != nil {
			return res, err
		}
		res.Rejects = len(b.Rejects)
	}
	return res, nil
}

// Influx adapts an influx.Writer: one point per record; rejects are not
// points.
type Influx struct{ W *influx.Writer }

// Name implements Writer.
func (Influx) Name() string { return "influxdb" }

// Write implements Writer.
func (i Influx) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	if len(b.Records) == 0 {
		return WriteResult{}, nil
	}
	r, err := i.W.Write(ctx, b.Records)
	if err != nil {
		return WriteResult{}, fmt.Errorf("influxdb: %w", err)
	}
	return WriteResult{Written: r.Written, Refused: r.Refused}, nil
}

// Ping implements Pinger.
func (p Postgres) Ping(ctx context.Context) error { return p.W.Ping(ctx) }

// Ping implements Pinger.
func (i Influx) Ping(ctx context.Context) error { return i.W.Ping(ctx) }
