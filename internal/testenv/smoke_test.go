package testenv_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/testenv"
)

// TestHarness_Smoke proves each harness server is reachable, writable and readable through
// the helpers every integration test uses.
func TestHarness_Smoke(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		dsn := testenv.PostgresDSN(t)
		conn := pgConnect(t, dsn)
		ctx := context.Background()
		if _, err := conn.Exec(ctx, `CREATE TABLE smoke (id bigint PRIMARY KEY, cost numeric NOT NULL)`); err != nil {
			t.Fatalf("create table: %v", err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO smoke VALUES (1, 0.000123), (2, 1.5)`); err != nil {
			t.Fatalf("insert: %v", err)
		}
		var got string
		if err := conn.QueryRow(ctx, `SELECT sum(cost)::text FROM smoke`).Scan(&got); err != nil {
			t.Fatalf("select: %v", err)
		}
		if want := "1.500123"; got != want {
			t.Errorf("sum(cost) = %s, want %s", got, want)
		}
	})

	t.Run("postgres isolated", func(t *testing.T) {
		t.Parallel()
		a, b := testenv.PostgresDSN(t), testenv.PostgresDSN(t)
		if a == b {
			t.Fatalf("two calls gave the same DSN %s", a)
		}
		ctx := context.Background()
		if _, err := pgConnect(t, a).Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
			t.Fatalf("create table: %v", err)
		}
		var got bool
		err := pgConnect(t, b).QueryRow(ctx, `SELECT to_regclass('only_in_a') IS NOT NULL`).Scan(&got)
		if err != nil {
			t.Fatalf("select: %v", err)
		}
		if got {
			t.Errorf("table of one test's database is visible in another's")
		}
	})

	t.Run("influxdb", func(t *testing.T) {
		t.Parallel()
		it := testenv.Influx(t)
		if got, want := it.Bucket, it.DB+"/autogen"; got != want {
			t.Errorf("Bucket = %q, want %q", got, want)
		}
		ts := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()
		// The second point differs only in its tags: two points, not one.
		it.Write(t, fmt.Sprintf("smoke,model=a cost_usd=0.25,input_tokens=10i %d\n"+
			"smoke,model=b cost_usd=0.5,input_tokens=20i %d\n", ts, ts))
		if got, want := it.CountPoints(t, "smoke"), 2; got != want {
			t.Errorf("CountPoints = %d, want %d", got, want)
		}
		series := it.Query(t, `SELECT sum("input_tokens") AS tokens FROM "smoke"`)
		if len(series) != 1 || len(series[0].Values) != 1 {
			t.Fatalf("sum query: got %+v, want one row", series)
		}
		got := series[0].Column("tokens")[0].(json.Number).String()
		if want := "30"; got != want {
			t.Errorf("sum(input_tokens) = %s, want %s", got, want)
		}
		if got, want := testenv.Influx(t).CountPoints(t, "smoke"), 0; got != want {
			t.Errorf("another test's database holds %d points, want %d", got, want)
		}
	})

	t.Run("victoriametrics", func(t *testing.T) {
		t.Parallel()
		vm := testenv.VictoriaMetrics(t)
		other := testenv.VictoriaMetrics(t)
		ts := time.Now().Add(-time.Minute).UnixNano()
		old := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano() // a backfill, years back
		vm.Write(t, fmt.Sprintf("smoke,model=a cost_usd=0.25 %d\nsmoke,model=b cost_usd=0.5 %d\n"+
			"smoke,model=a cost_usd=1 %d\n", ts, ts, old))
		other.Write(t, fmt.Sprintf("smoke,model=a cost_usd=9 %d\n", ts))
		if got, want := vm.Samples(t, "smoke_cost_usd", 3), 3; got != want {
			t.Errorf("Samples = %d, want %d", got, want)
		}
		if got, want := other.Samples(t, "smoke_cost_usd", 1), 1; got != want {
			t.Errorf("other test's Samples = %d, want %d", got, want)
		}
		if got, want := vm.Labels()[testenv.VMLabel], vm.Run; got != want {
			t.Errorf("Labels()[%s] = %q, want %q", testenv.VMLabel, got, want)
		}
	})
}

// TestHarness_Outage stops and crashes each server under a test's feet and checks that the
// helpers bring it back with its data.
func TestHarness_Outage(t *testing.T) {
	testenv.OutageTest(t)

	t.Run("postgres", func(t *testing.T) {
		dsn := testenv.PostgresDSN(t)
		ctx := context.Background()
		if _, err := pgConnect(t, dsn).Exec(ctx, `CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)`); err != nil {
			t.Fatalf("setup: %v", err)
		}
		for _, down := range []func(testing.TB, testenv.Server){testenv.Stop, testenv.Crash} {
			down(t, testenv.Postgres)
			if conn, err := pgx.Connect(ctx, dsn); err == nil {
				conn.Close(ctx)
				t.Fatalf("connect succeeded while PostgreSQL is down")
			}
			testenv.Start(t, testenv.Postgres)
			var got int
			if err := pgConnect(t, dsn).QueryRow(ctx, `SELECT x FROM kept`).Scan(&got); err != nil {
				t.Fatalf("select after restart: %v", err)
			}
			if want := 7; got != want {
				t.Errorf("after restart got %d, want %d", got, want)
			}
		}
	})

	t.Run("influxdb", func(t *testing.T) {
		it := testenv.Influx(t)
		it.Write(t, fmt.Sprintf("kept v=1 %d\n", time.Now().UnixNano()))
		// SIGKILL: an acknowledged write must survive in the WAL.
		testenv.Crash(t, testenv.InfluxDB)
		testenv.Start(t, testenv.InfluxDB)
		if got, want := it.CountPoints(t, "kept"), 1; got != want {
			t.Errorf("after crash CountPoints = %d, want %d", got, want)
		}
	})

	t.Run("victoriametrics", func(t *testing.T) {
		vm := testenv.VictoriaMetrics(t)
		vm.Write(t, fmt.Sprintf("kept v=1 %d\n", time.Now().UnixNano()))
		vm.Flush(t)
		testenv.Stop(t, testenv.VM)
		testenv.Start(t, testenv.VM)
		if got, want := vm.Samples(t, "kept_v", 1), 1; got != want {
			t.Errorf("after restart Samples = %d, want %d", got, want)
		}
	})
}

// TestPostgresDSN_MissingServer checks the two ways a test ends without a harness: skip on a
// laptop, failure in `make test`, each telling how to start the servers.
func TestPostgresDSN_MissingServer(t *testing.T) {
	for _, tt := range []struct {
		require             string
		wantSkip, wantFatal bool
	}{
		{require: "", wantSkip: true},
		{require: "1", wantFatal: true},
	} {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv(testenv.EnvPostgresDSN, "")
			t.Setenv(testenv.EnvRequire, tt.require)
			r := &endRecorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				testenv.PostgresDSN(r)
				r.returned = true
			}()
			<-done
			if r.returned {
				t.Fatalf("PostgresDSN returned without a server, want it to end the test")
			}
			if got := r.skip != ""; got != tt.wantSkip {
				t.Errorf("skipped = %v (%q), want %v", got, r.skip, tt.wantSkip)
			}
			if got := r.fatal != ""; got != tt.wantFatal {
				t.Errorf("failed = %v (%q), want %v", got, r.fatal, tt.wantFatal)
			}
			if msg := r.skip + r.fatal; !strings.Contains(msg, "make test") {
				t.Errorf("message %q does not say how to start the servers", msg)
			}
		})
	}
}

// endRecorder records how a helper ends a test instead of ending the real one.
type endRecorder struct {
	testing.TB
	skip, fatal string
	returned    bool
}

func (r *endRecorder) Helper() {}

func (r *endRecorder) Skip(args ...any) {
	r.skip = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *endRecorder) Fatal(args ...any) {
	r.fatal = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *endRecorder) Skipf(format string, args ...any)  { r.Skip(fmt.Sprintf(format, args...)) }
func (r *endRecorder) Fatalf(format string, args ...any) { r.Fatal(fmt.Sprintf(format, args...)) }

func pgConnect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
