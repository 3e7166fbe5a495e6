package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/influx"
)

// Settings of the long run (`make chaos`); CI runs the defaults.
const (
	envKills = "TOKENTAIL_CHAOS_KILLS"    // kill -9 count, default 20
	envDur   = "TOKENTAIL_CHAOS_DURATION" // how long logs are written, default 20s
	envRate  = "TOKENTAIL_CHAOS_RATE"     // entries per second, default 1500
)

func envInt(t *testing.T, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return def
}

// buildTokentail builds the real binary once per test run.
func buildTokentail(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "tokentail")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tokentail")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// world is one chaos run: generated logs, the databases, the daemon's config.
type world struct {
	t      *testing.T
	bin    string
	dir    string
	dsn    string
	influx testenv.InfluxTarget
	config string
}

func newWorld(t *testing.T) *world {
	w := &world{t: t, bin: buildTokentail(t), dir: t.TempDir(), dsn: testenv.PostgresDSN(t), influx: testenv.Influx(t)}
	if err := os.MkdirAll(filepath.Join(w.dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.config = filepath.Join(w.dir, "tokentail.yaml")
	yaml := fmt.Sprintf(`sources:
  - name: app
    paths: [%q]
postgres: {dsn: %q, batch_timeout: 50ms}
influxdb: {url: %q, bucket: %q, batch_timeout: 50ms}
state_dir: %q
shutdown_timeout: 20s
log: {level: info, format: json}
`, filepath.Join(w.dir, "logs", "*.log"), w.dsn, w.influx.URL, w.influx.Bucket, filepath.Join(w.dir, "state"))
	if err := os.WriteFile(w.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// start starts the daemon; its log goes to a file of the test's.
func (w *world) start() *exec.Cmd {
	w.t.Helper()
	logf, err := os.OpenFile(filepath.Join(w.dir, "daemon.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(w.bin, "run", "--config", w.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	return cmd
}

// counts reads what the databases hold.
func (w *world) counts(ctx context.Context) (rows, ids, rejects int64, cost parse.Money, points int, err error) {
	conn, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	var costText string
	err = conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT event_id),
		coalesce(sum(cost_usd) FILTER (WHERE cost_source = 'log'), 0)::text FROM ai_usage_events`).Scan(&rows, &ids, &costText)
	if err != nil {
		return
	}
	if err = conn.QueryRow(ctx, `SELECT count(*) FROM ai_usage_rejects`).Scan(&rejects); err != nil {
		return
	}
	if cost, err = parse.ParseMoney(costText); err != nil {
		return
	}
	points = w.influx.CountPoints(w.t, "ai_usage")
	return
}

func (w *world) tail() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

// TestChaos_KillNine kills the daemon with SIGKILL at random moments while
// four files grow and rotate, then lets it catch up and compares the
// databases with what the generator wrote: every record exactly once.
func TestChaos_KillNine(t *testing.T) {
	for _, rot := range []loggen.Rotation{loggen.RotateRename, loggen.RotateCopyTruncate} {
		t.Run(rot.String(), func(t *testing.T) { killNine(t, rot) })
	}
}

func killNine(t *testing.T, rot loggen.Rotation) {
	kills := envInt(t, envKills, 20)
	duration := envDuration(t, envDur, 20*time.Second)
	rate := envInt(t, envRate, 1500)
	w := newWorld(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d kills over %s at %d lines/s, rotation %s", seed, kills, duration, rate, rot)
	rng := rand.New(rand.NewPCG(seed, 1))

	ctx := context.Background()
	genDone := make(chan loggen.Manifest, 1)
	genErr := make(chan error, 1)
	go func() {
		man, err := loggen.Live(ctx, loggen.LiveOptions{
			Options: loggen.Options{Seed: seed, Noise: 0.3, Malformed: 0.01, NoCost: 0.2, NoID: 0.2},
			Dir:     filepath.Join(w.dir, "logs"), Name: "app", Files: 4,
			Rate: float64(rate), Duration: duration,
			Rotate: rot, RotateEvery: duration / 6, Keep: 0, SplitWrites: 0.05,
		})
		genErr <- err
		genDone <- man
	}()

	// Kill at random moments spread over the generation.
	gap := duration / time.Duration(kills+1)
	for i := 0; i < kills; i++ {
		d := w.start()
		time.Sleep(gap/4 + time.Duration(rng.Int64N(int64(gap))))
		if err := d.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		d.Wait()
	}
	if err := <-genErr; err != nil {
		t.Fatalf("generator: %v", err)
	}
	want := <-genDone

	// The last start catches up; then a clean stop.
	d := w.start()
	deadline := time.Now().Add(90 * time.Second)
	for {
		rows, _, rejects, _, points, err := w.counts(ctx)
		if err == nil && rows >= want.Records && int64(points) >= want.Records && rejects >= want.Malformed {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("not caught up after 90s: %d rows, %d points, %d rejects; want %d, %d, %d (err %v)",
				rows, points, rejects, want.Records, want.Records, want.Malformed, err)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything more arriving now would be a duplicate
	rows, ids, rejects, cost, points, err := w.counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Errorf("daemon did not exit cleanly on SIGTERM: %v\n%s", err, w.tail())
	}
	if rows != want.Records || ids != want.Records {
		t.Errorf("rows %d, distinct ids %d; want %d", rows, ids, want.Records)
	}
	if int64(points) != want.Records {
		t.Errorf("points %d, want %d", points, want.Records)
		w.explainPoints(t)
	}
	if rejects != want.Malformed {
		t.Errorf("rejects %d, want %d", rejects, want.Malformed)
	}
	if cost != want.Cost {
		t.Errorf("logged cost %s, want %s exactly", cost, want.Cost)
	}
	if t.Failed() {
		t.Logf("daemon log tail:\n%s", w.tail())
	}
}

// explainPoints lists records that land on the same InfluxDB point (same
// tags, same point time): InfluxDB can keep only one of them.
func (w *world) explainPoints(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		t.Log(err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT event_id, occurred_at, model, coalesce(provider,''), coalesce(feature,''),
		success, coalesce(error_type,''), source FROM ai_usage_events`)
	if err != nil {
		t.Log(err)
		return
	}
	defer rows.Close()
	seen := map[string]string{}
	for rows.Next() {
		var r parse.Record
		var ok bool
		if err := rows.Scan(&r.EventID, &r.OccurredAt, &r.Model, &r.Provider, &r.Feature, &ok, &r.ErrorType, &r.Source); err != nil {
			t.Log(err)
			return
		}
		key := fmt.Sprintf("%s|%s|%s|%v|%s|%s|%d", r.Model, r.Provider, r.Feature, ok, r.ErrorType, r.Source, influx.PointTime(&r))
		if other, dup := seen[key]; dup {
			t.Logf("two records on one point %s: %s and %s (occurred_at %s)", key, other, r.EventID, r.OccurredAt.Format(time.RFC3339Nano))
		}
		seen[key] = r.EventID
	}
}
