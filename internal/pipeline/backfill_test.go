package pipeline

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/config"
	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
)

// backfillEnv is a test's own databases and generated logs.
type backfillEnv struct {
	dir    string
	dsn    string
	influx testenv.InfluxTarget
	cfg    *config.Config
	files  []string
	want   loggen.Manifest
}

// newBackfillEnv generates records (per envelope) of logs with noise,
// malformed lines, records without cost and without id, in three envelopes.
func newBackfillEnv(t *testing.T, records int) *backfillEnv {
	t.Helper()
	e := &backfillEnv{dir: t.TempDir(), dsn: testenv.PostgresDSN(t), influx: testenv.Influx(t)}
	for i, env := range []loggen.Envelope{loggen.Plain, loggen.Docker, loggen.CRI} {
		path := filepath.Join(e.dir, fmt.Sprintf("app-%s.log", env))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		g := loggen.New(loggen.Options{Seed: uint64(i + 1), Envelope: env, Noise: 0.4, Malformed: 0.02,
			NoCost: 0.2, NoID: 0.2, MaxLineBytes: 64 << 10, SplitBytes: 4096})
		man, err := g.WriteN(f, records)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		e.want.Merge(man)
		e.files = append(e.files, path)
	}
	yaml := fmt.Sprintf(`
sources:
  - name: app
    paths: [%q]
    max_line_bytes: 65536
postgres: {dsn: %q}
influxdb: {url: %q, bucket: %q}
`, filepath.Join(e.dir, "*.log*"), e.dsn, e.influx.URL, e.influx.Bucket)
	cfg, err := config.Parse(filepath.Join(e.dir, "tokentail.yaml"), []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	return e
}

func (e *backfillEnv) run(t *testing.T, ctx context.Context, files []string, prog *Progress) Summary {
	t.Helper()
	ws, err := OpenWriters(ctx, e.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	sum, err := Backfill(ctx, BackfillOptions{Config: e.cfg, Files: files, Writers: ws.List(), BatchSize: 1000}, prog)
	if err != nil {
		t.Fatalf("backfill: %v (summary %+v)", err, sum)
	}
	return sum
}

// check compares the databases with what the generator wrote, exactly.
func (e *backfillEnv) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, ids, unpriced int64
	var logCost string
	err = conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id),
		coalesce(sum(cost_usd) FILTER (WHERE cost_source = 'log'), 0)::text,
		count(*) FILTER (WHERE cost_source = 'unpriced') FROM ai_usage_events`).Scan(&rows, &ids, &logCost, &unpriced)
	if err != nil {
		t.Fatal(err)
	}
	if rows != e.want.Records || ids != e.want.Records {
		t.Errorf("rows %d, distinct event ids %d; want %d records", rows, ids, e.want.Records)
	}
	got, err := parse.ParseMoney(logCost)
	if err != nil || got != e.want.Cost {
		t.Errorf("sum(cost_usd) of logged costs: got %s, want %s exactly", logCost, e.want.Cost)
	}
	if unpriced != e.want.RecordsWithoutCost {
		t.Errorf("unpriced rows: got %d, want %d (no pricing table: every record without a cost)", unpriced, e.want.RecordsWithoutCost)
	}
	reasons, err := conn.Query(ctx, `SELECT reason, count(*) FROM ai_usage_rejects GROUP BY reason`)
	if err != nil {
		t.Fatal(err)
	}
	gotRejects := map[parse.Reason]int64{}
	for reasons.Next() {
		var r string
		var n int64
		if err := reasons.Scan(&r, &n); err != nil {
			t.Fatal(err)
		}
		gotRejects[parse.Reason(r)] = n
	}
	if len(gotRejects) != len(e.want.Rejects) {
		t.Errorf("reject reasons: got %v, want %v", gotRejects, e.want.Rejects)
	}
	for r, n := range e.want.Rejects {
		if gotRejects[r] != n {
			t.Errorf("rejects %s: got %d, want %d", r, gotRejects[r], n)
		}
	}
	if points := e.influx.CountPoints(t, "ai_usage"); int64(points) != e.want.Records {
		t.Errorf("influx points: got %d, want %d", points, e.want.Records)
	}
}

func TestBackfill_ExactlyOnce(t *testing.T) {
	e := newBackfillEnv(t, 3000)
	ctx := context.Background()

	first := e.run(t, ctx, e.files, nil)
	if first.Records != e.want.Records || first.RejectTotal() != e.want.Malformed {
		t.Fatalf("summary: %d records, %d rejects; want %d and %d", first.Records, first.RejectTotal(), e.want.Records, e.want.Malformed)
	}
	for _, w := range first.Writers {
		if int64(w.Written) != e.want.Records || w.Duplicates != 0 || w.Refused != 0 {
			t.Errorf("first run, %s: %+v; want %d written", w.Name, w.WriteResult, e.want.Records)
		}
	}
	e.check(t)

	t.Run("second run adds nothing", func(t *testing.T) {
		again := e.run(t, ctx, e.files, nil)
		for _, w := range again.Writers {
			if w.Name == "postgres" && (w.Written != 0 || int64(w.Duplicates) != e.want.Records) {
				t.Errorf("second run, postgres: %+v; want 0 written, %d duplicates", w.WriteResult, e.want.Records)
			}
		}
		e.check(t)
	})

	t.Run("rotated gz copy adds nothing", func(t *testing.T) {
		gz := e.files[0] + ".1.gz"
		gzipFile(t, e.files[0], gz)
		again := e.run(t, ctx, []string{gz}, nil)
		if again.Records == 0 {
			t.Fatal("the .gz file gave no records")
		}
		for _, w := range again.Writers {
			if w.Name == "postgres" && w.Written != 0 {
				t.Errorf("gz of a file already loaded wrote %d new rows", w.Written)
			}
		}
		e.check(t)
	})
}

// TestBackfill_InterruptedThenRerun cancels a backfill midway (Ctrl-C) and
// runs it again: the second run finishes the job without duplicates.
func TestBackfill_InterruptedThenRerun(t *testing.T) {
	e := newBackfillEnv(t, 6000)
	ws, err := OpenWriters(context.Background(), e.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	prog := &Progress{}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for prog.Records.Load() < e.want.Records/3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err = Backfill(ctx, BackfillOptions{Config: e.cfg, Files: e.files, Writers: ws.List(), BatchSize: 500}, prog)
	<-stopped
	ws.Close()
	if err == nil {
		t.Log("backfill finished before it could be interrupted")
	}
	e.run(t, context.Background(), e.files, nil)
	e.check(t)
}

// TestBackfill_Outage stops each database in the middle of a backfill and
// starts it again: the backfill waits, then finishes, and loses nothing.
func TestBackfill_Outage(t *testing.T) {
	testenv.OutageTest(t)
	for _, server := range []testenv.Server{testenv.Postgres, testenv.InfluxDB} {
		t.Run(string(server), func(t *testing.T) {
			e := newBackfillEnv(t, 8000)
			prog := &Progress{}
			var restarted atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				for prog.Records.Load() < e.want.Records/4 {
					time.Sleep(time.Millisecond)
				}
				testenv.Crash(t, server)
				time.Sleep(2 * time.Second) // an outage the writers must ride out
				testenv.Start(t, server)
				restarted.Store(true)
			}()
			e.run(t, context.Background(), e.files, prog)
			<-done
			if !restarted.Load() {
				t.Fatal("the server was not restarted during the backfill")
			}
			e.check(t)
		})
	}
}

func gzipFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
