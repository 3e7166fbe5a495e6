package chaos

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/bench"
	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
)

// Settings of the run. `make test` runs the defaults (about a minute);
// `make chaos` (scripts/chaos.sh) runs a million records with 100 kills and
// two outages per database, and writes RELIABILITY.md from the report.
const (
	envRecords = "TOKENTAIL_CHAOS_RECORDS" // record lines written in all (valid and malformed), default 24000
	envKills   = "TOKENTAIL_CHAOS_KILLS"   // kill -9 count, default 20
	envRate    = "TOKENTAIL_CHAOS_RATE"    // lines per second over all files, default 1500
	envOutages = "TOKENTAIL_CHAOS_OUTAGES" // outages per database, default 1
	envOutage  = "TOKENTAIL_CHAOS_OUTAGE"  // how long a database stays down, default 4s
	envReport  = "TOKENTAIL_CHAOS_REPORT"  // when set, the markdown report is written to this file
)

// noise is the generator's fraction of lines that are not records: it turns
// a record count and a line rate into a duration.
const noise = 0.3

func envInt(t *testing.T, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want a whole number", name, v)
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

// outage is one database down and up again during the run.
type outage struct {
	server testenv.Server
	crash  bool // crash (immediate stop, SIGKILL) rather than a clean stop
	at     time.Duration
	length time.Duration
}

func (o outage) String() string {
	how := "stopped"
	if o.crash {
		how = "crashed"
	}
	return fmt.Sprintf("%s %s at %s for %s", serverName(o.server), how, o.at.Round(time.Second), o.length)
}

func serverName(s testenv.Server) string {
	if s == testenv.Postgres {
		return "PostgreSQL"
	}
	return "InfluxDB"
}

// planOutages spreads n outages per database evenly over the run, one
// database at a time, PostgreSQL first; each database's first outage is a
// crash, its second a clean stop, and so on.
func planOutages(n int, run, length time.Duration) []outage {
	var out []outage
	slots := 2 * n
	for k := range slots {
		s := testenv.Postgres
		if k%2 == 1 {
			s = testenv.InfluxDB
		}
		at := run * time.Duration(2*k+1) / time.Duration(2*slots)
		out = append(out, outage{server: s, crash: (k/2)%2 == 0, at: at - length/2, length: length})
	}
	return out
}

func TestPlanOutages_Spread(t *testing.T) {
	got := planOutages(2, 80*time.Second, 4*time.Second)
	want := []string{
		"PostgreSQL crashed at 8s for 4s",
		"InfluxDB crashed at 28s for 4s",
		"PostgreSQL stopped at 48s for 4s",
		"InfluxDB stopped at 1m8s for 4s",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d outages %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("outage %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// runStats is what a run did, for the report.
type runStats struct {
	seed              uint64
	rate              int
	kills             int
	outages           []outage
	generated         time.Duration // until the generators were done
	caughtUp          time.Duration // from then until the databases held everything
	total             time.Duration
	renameRotations   int64
	truncateRotations int64
	files             int
	commit            string // of the tree the daemon was built from
}

// found is what the databases hold at the end.
type found struct {
	rows, ids, rejects int64
	points             int
	cost               parse.Money
	byReason           map[parse.Reason]int64
}

// TestChaos_KillNineOutage is the exactly-once promise under abuse. Two
// generators append to eight files, four rotated by rename and four by
// copytruncate, while the real daemon is killed with SIGKILL at random
// moments (started again at once each time), and PostgreSQL and InfluxDB
// are each taken down and brought back mid-stream. The daemon then catches
// up, and the databases must hold what the generators wrote, exactly: one
// row and one point per record, every reject by reason, no duplicate, the
// logged cost to the picodollar.
//
// It stops servers every test shares, so it runs in make test's outage
// phase (hence the name); the settings above size it.
func TestChaos_KillNineOutage(t *testing.T) {
	testenv.OutageTest(t)
	records := envInt(t, envRecords, 24000)
	kills := envInt(t, envKills, 20)
	rate := envInt(t, envRate, 1500)
	nOutages := envInt(t, envOutages, 1)
	outageLen := envDuration(t, envOutage, 4*time.Second)
	if rate == 0 {
		t.Fatalf("%s: want a positive rate", envRate)
	}
	// How long the generators write, at the rate asked.
	run := time.Duration(float64(records) / (float64(rate) * (1 - noise)) * float64(time.Second))

	commit := treeCommit()
	w := newWorld(t)
	st := runStats{commit: commit, seed: uint64(time.Now().UnixNano()), rate: rate, kills: kills, outages: planOutages(nOutages, run, outageLen), files: 8}
	t.Logf("seed %d: %d record lines at %d lines/s (about %s), %d kills, outages: %v",
		st.seed, records, rate, run.Round(time.Second), kills, st.outages)
	rng := rand.New(rand.NewPCG(st.seed, 1))
	began := time.Now()

	// Two generators, one per rotation mode, with their own seeds: the
	// same seed would write the same lines at the same offsets, which are
	// the same records by identity.
	type result struct {
		man loggen.Manifest
		err error
	}
	results := make(chan result, 2)
	// A test that fails half-way stops its generators too.
	genCtx, stopGen := context.WithCancel(context.Background())
	defer stopGen()
	for i, rot := range []loggen.Rotation{loggen.RotateRename, loggen.RotateCopyTruncate} {
		go func() {
			man, err := loggen.Live(genCtx, loggen.LiveOptions{
				Options: loggen.Options{Seed: st.seed + uint64(i), Noise: noise, Malformed: 0.01, NoCost: 0.2, NoID: 0.2},
				Dir:     filepath.Join(w.dir, "logs"), Name: rot.String(), Files: st.files / 2,
				Rate: float64(rate) / 2, Records: records / 2,
				// Each file rotates every few seconds in CI, and about 30
				// times in the long run (it keeps every rotated file: the
				// count must be exact, and a deleted file's lines are lost
				// by nature when the daemon is down longer than rotation
				// keeps it).
				Rotate: rot, RotateEvery: max(run/30, 4*time.Second), Keep: 0, SplitWrites: 0.05,
			})
			results <- result{man, err}
		}()
	}

	// The timeline: kills at uniformly random moments over the writing,
	// outages at planned ones, done in order by this goroutine (testenv
	// and t.Fatal must run on the test's).
	type event struct {
		at time.Duration
		do func()
	}
	d := w.start()
	t.Cleanup(func() {
		// Failed half-way: no daemon outlives the test.
		if d.ProcessState == nil {
			d.Process.Kill()
			d.Wait()
		}
	})
	var events []event
	for range kills {
		events = append(events, event{time.Duration(rng.Int64N(int64(run))), func() {
			if err := d.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			d.Wait()
			d = w.start()
		}})
	}
	for _, o := range st.outages {
		events = append(events,
			event{o.at, func() {
				if o.crash {
					testenv.Crash(t, o.server)
				} else {
					testenv.Stop(t, o.server)
				}
			}},
			event{o.at + o.length, func() { testenv.Start(t, o.server) }})
	}
	slices.SortStableFunc(events, func(a, b event) int { return int(a.at - b.at) })
	for _, e := range events {
		time.Sleep(time.Until(began.Add(e.at)))
		e.do()
	}

	var want loggen.Manifest
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Fatalf("generator: %v", r.err)
		}
		for _, f := range r.man.Files {
			if strings.Contains(filepath.Base(f.Path), loggen.RotateRename.String()) {
				st.renameRotations += f.Rotations
			} else {
				st.truncateRotations += f.Rotations
			}
		}
		want.Merge(r.man)
	}
	st.generated = time.Since(began)

	// The last daemon started catches up; then a clean stop.
	caughtUpAt := time.Now()
	limit := 2*time.Minute + run/4
	deadline := time.Now().Add(limit)
	for {
		rows, rejects, err := w.pgCounts(context.Background())
		points := 0
		if err == nil {
			points = w.points()
		}
		if err == nil && rows >= want.Records && int64(points) >= want.Records && rejects >= want.Malformed {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("not caught up after %s: %d rows, %d points, %d rejects; want %d, %d, %d (err %v)",
				limit, rows, points, rejects, want.Records, want.Records, want.Malformed, err)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	st.caughtUp = time.Since(caughtUpAt)
	time.Sleep(2 * time.Second) // anything more arriving now would be a duplicate
	got, err := w.final(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := d.Wait(); err != nil {
		t.Errorf("daemon did not exit cleanly on SIGTERM: %v\n%s", err, w.tail())
	}
	st.total = time.Since(began)

	if got.rows != want.Records || got.ids != want.Records {
		t.Errorf("rows %d, distinct ids %d; want %d", got.rows, got.ids, want.Records)
	}
	if int64(got.points) != want.Records {
		t.Errorf("points %d, want %d", got.points, want.Records)
		if want.Records <= 100000 {
			w.explainPoints(t)
		}
	}
	if got.rejects != want.Malformed || !maps.Equal(got.byReason, want.Rejects) {
		t.Errorf("rejects %d %v, want %d %v", got.rejects, got.byReason, want.Malformed, want.Rejects)
	}
	if got.cost != want.Cost {
		t.Errorf("logged cost %s, want %s exactly", got.cost, want.Cost)
	}
	report := st.markdown(t, want, got)
	t.Logf("report:\n%s", report)
	if path := os.Getenv(envReport); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Errorf("write report: %v", err)
		}
	}
	if t.Failed() {
		t.Logf("daemon log tail:\n%s", w.tail())
	}
}

// pgCounts is the cheap count polled while catching up.
func (w *world) pgCounts(ctx context.Context) (rows, rejects int64, err error) {
	conn, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM ai_usage_events), (SELECT count(*) FROM ai_usage_rejects)`).Scan(&rows, &rejects)
	return rows, rejects, err
}

// final reads everything the comparison needs.
func (w *world) final(ctx context.Context) (found, error) {
	var f found
	var err error
	if f.rows, f.ids, f.rejects, f.cost, f.points, err = w.counts(ctx); err != nil {
		return f, err
	}
	conn, err := pgx.Connect(ctx, w.dsn)
	if err != nil {
		return f, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT reason, count(*) FROM ai_usage_rejects GROUP BY reason`)
	if err != nil {
		return f, err
	}
	f.byReason = map[parse.Reason]int64{}
	for rows.Next() {
		var r string
		var n int64
		if err := rows.Scan(&r, &n); err != nil {
			return f, err
		}
		f.byReason[parse.Reason(r)] = n
	}
	return f, rows.Err()
}

// markdown is the run's report: what was done, and counts expected against
// found.
func (st runStats) markdown(t *testing.T, want loggen.Manifest, got found) string {
	m := bench.ReadMachine(time.Now())
	result := "PASS: every record exactly once"
	if t.Failed() {
		result = "FAIL (see the test log)"
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("| run | |\n|---|---|\n")
	p("| date | %s |\n", m.Date.UTC().Format("2006-01-02 15:04 MST"))
	p("| commit | %s |\n", st.commit)
	p("| machine | %s, %d cores, %.1f GiB RAM, %s, kernel %s; load %s at the end |\n",
		m.CPU, m.Cores, float64(m.MemoryKiB)/(1<<20), m.Go, m.Kernel, bench.LoadAverage())
	p("| command | `make chaos` (go test -run TestChaos_KillNineOutage ./internal/chaos), seed %d |\n", st.seed)
	p("| written | %d record lines (%d records, %d malformed) and %d noise lines, %.0f MiB, at %d lines/s |\n",
		want.Records+want.Malformed, want.Records, want.Malformed, want.NoiseLines, float64(want.Bytes)/(1<<20), st.rate)
	p("| files | %d live files: %d rotated by rename (%d rotations), %d by copytruncate (%d rotations) |\n",
		st.files, st.files/2, st.renameRotations, st.files/2, st.truncateRotations)
	p("| kill -9 | %d, at uniformly random moments while writing; the daemon started again at once |\n", st.kills)
	var pg, ix []string
	for _, o := range st.outages {
		if o.server == testenv.Postgres {
			pg = append(pg, o.String())
		} else {
			ix = append(ix, o.String())
		}
	}
	p("| PostgreSQL outages | %d: %s |\n", len(pg), strings.Join(pg, "; "))
	p("| InfluxDB outages | %d: %s |\n", len(ix), strings.Join(ix, "; "))
	p("| duration | %s writing, %s to catch up after it, %s in all |\n",
		st.generated.Round(time.Second), st.caughtUp.Round(time.Second), st.total.Round(time.Second))
	p("| result | %s |\n\n", result)

	p("| count | expected | found |\n|---|---:|---:|\n")
	p("| rows (ai_usage_events) | %d | %d |\n", want.Records, got.rows)
	p("| distinct event ids | %d | %d |\n", want.Records, got.ids)
	p("| duplicates (count(*) - count(DISTINCT event_id)) | 0 | %d |\n", got.rows-got.ids)
	p("| points (ai_usage) | %d | %d |\n", want.Records, got.points)
	p("| rejects (ai_usage_rejects) | %d | %d |\n", want.Malformed, got.rejects)
	reasons := slices.Sorted(maps.Keys(want.Rejects))
	for r := range got.byReason {
		if _, ok := want.Rejects[r]; !ok {
			reasons = append(reasons, r)
		}
	}
	for _, r := range reasons {
		p("| rejects: %s | %d | %d |\n", r, want.Rejects[r], got.byReason[r])
	}
	p("| cost logged, USD (exact) | %s | %s |\n", want.Cost, got.cost)
	return b.String()
}

// treeCommit names the tree the test builds the daemon from: the commit,
// and whether files it tracks differ from it.
func treeCommit() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if dirty, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(dirty) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}
