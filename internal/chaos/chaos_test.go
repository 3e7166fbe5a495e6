package chaos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/influx"
)

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
	// wrap, when set, runs the daemon through it (setpriv, to drop root).
	wrap []string
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
	args := append(append([]string{}, w.wrap...), w.bin, "run", "--config", w.config)
	cmd := exec.Command(args[0], args[1:]...)
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
	points = w.points()
	return
}

// points counts the points of ai_usage. Every point has an input_tokens
// field, so counting it counts points, without SELECT * sending each one
// (a million of them in the long run).
func (w *world) points() int {
	n := 0
	for _, s := range w.influx.Query(w.t, `SELECT count(input_tokens) FROM ai_usage`) {
		for _, v := range s.Column("count") {
			c, err := strconv.Atoi(fmt.Sprint(v))
			if err != nil {
				w.t.Fatalf("influx count %v: %v", v, err)
			}
			n += c
		}
	}
	return n
}

func (w *world) tail() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "daemon.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
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
