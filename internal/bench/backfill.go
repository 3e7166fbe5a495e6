package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// parse is the parser part: no servers, no files.
func (r *runner) parse(ctx context.Context) (Section, error) {
	res, err := runParseBench(ctx, r.cfg.Repo)
	if err != nil {
		return Section{}, err
	}
	rec, base := res.Record.rate("records/s"), res.Baseline.rate("records/s")
	allocs := res.Record.Metrics["allocs/op"]
	s := Section{Title: "Parse (go test -bench Parse_ ./parse)"}
	s.Rows = append(s.Rows,
		Row{What: "parse + normalize + price (BenchmarkParse_Record)",
			Figure: fmt.Sprintf("%s records/s, %.0f ns/op, %.0f B/op", si(rec), res.Record.Metrics["ns/op"], res.Record.Metrics["B/op"]),
			Ratio:  ratio(rec, base) + " the speed of bare fastjson"},
		Row{What: "allocations per record", Figure: fmt.Sprintf("%.0f allocs/op", allocs), Target: "0", Met: met(allocs == 0)},
		Row{What: "bare fastjson on the same lines (BenchmarkParse_Baseline)",
			Figure: fmt.Sprintf("%s records/s, %.0f ns/op, %.0f allocs/op", si(base), res.Baseline.Metrics["ns/op"], res.Baseline.Metrics["allocs/op"])},
	)
	if res.Noise.N > 0 {
		s.Rows = append(s.Rows, Row{What: "noise lines skipped (BenchmarkParse_Noise)",
			Figure: fmt.Sprintf("%s lines/s, %.0f allocs/op", si(res.Noise.rate("lines/s")), res.Noise.Metrics["allocs/op"])})
	}
	if res.CPU != "" {
		s.Notes = append(s.Notes, "go test reports cpu: "+res.CPU)
	}
	return s, nil
}

// bfLoad is one load of the backfill comparison.
type bfLoad struct {
	tt        Usage
	rawPG     time.Duration
	rawInflux time.Duration
	ttRows    int64
	ttPoints  int64
	rawRows   int64
	rawPoints int64
	ttSummary string
}

// backfill compares `tokentail backfill` with raw loads of the same rows
// and points.
func (r *runner) backfill(ctx context.Context) (Section, error) {
	s := Section{Title: fmt.Sprintf("Backfill of %d records into PostgreSQL and InfluxDB", r.cfg.Records)}
	dir := filepath.Join(r.dir, "backfill")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return s, err
	}
	logPath := filepath.Join(dir, "app.log")
	manifestPath := filepath.Join(dir, "manifest.json")
	r.log.Info("backfill: generating the log", "records", r.cfg.Records, "noise", r.cfg.Noise)
	if _, _, err := RunMeasured(ctx, filepath.Join(dir, "loggen.log"), r.loggen, "batch",
		"--records", fmt.Sprint(r.cfg.Records), "--noise", fmt.Sprint(r.cfg.Noise),
		"--out", logPath, "--manifest", manifestPath); err != nil {
		return s, err
	}
	var man struct {
		Bytes      int64 `json:"bytes"`
		Lines      int64 `json:"lines"`
		NoiseLines int64 `json:"noise_lines"`
		Records    int64 `json:"records"`
	}
	if b, err := os.ReadFile(manifestPath); err != nil {
		return s, err
	} else if err := json.Unmarshal(b, &man); err != nil {
		return s, fmt.Errorf("read %s: %w", manifestPath, err)
	}

	// The same config for parse and backfill, so both read the file alike;
	// each load gets its own databases.
	conf := func(db string) string { return filepath.Join(dir, db+".yaml") }
	for _, db := range []string{"bf_tt", "bf_raw"} {
		if err := r.tokentailConfig(conf(db), []string{logPath}, db, filepath.Join(dir, "state-"+db), "", 0); err != nil {
			return s, err
		}
	}

	r.log.Info("backfill: making the raw loads' CSV and line protocol from tokentail parse")
	conv, err := r.convert(ctx, conf("bf_raw"), logPath, dir)
	if err != nil {
		return s, err
	}
	if int64(conv.Records) != man.Records {
		return s, fmt.Errorf("tokentail parse printed %d records, the generator wrote %d", conv.Records, man.Records)
	}
	s.Rows = append(s.Rows, Row{What: "input (tokentail-loggen batch)",
		Figure: fmt.Sprintf("%s, %d lines: %d records, %d noise; raw CSV %s, line protocol %s",
			mb(man.Bytes), man.Lines, man.Records, man.NoiseLines, mb(conv.CSVBytes), mb(conv.LPBytes))})

	var loads []bfLoad
	for round := range r.cfg.BackfillRounds {
		var l bfLoad
		// Alternate which goes first: the second load may meet the first's
		// background work (InfluxDB compactions, autovacuum) despite the drop.
		order := []bool{true, false}
		if round%2 == 1 {
			order = []bool{false, true}
		}
		for _, raw := range order {
			if raw {
				err = r.rawLoad(ctx, &l, conv, dir)
			} else {
				err = r.ttLoad(ctx, &l, conf("bf_tt"), logPath, dir)
			}
			if err != nil {
				return s, err
			}
		}
		loads = append(loads, l)
	}

	var tt Usage
	var raw, rawPG, rawInflux time.Duration
	for _, l := range loads {
		tt.Wall += l.tt.Wall
		tt.User += l.tt.User
		tt.Sys += l.tt.Sys
		tt.MaxRSSKiB = max(tt.MaxRSSKiB, l.tt.MaxRSSKiB)
		raw += max(l.rawPG, l.rawInflux)
		rawPG += l.rawPG
		rawInflux += l.rawInflux
	}
	n := float64(man.Records) * float64(len(loads))
	r.rawInfluxRate = n / rawInflux.Seconds()
	cpuPerRec := float64(tt.CPU().Microseconds()) / n
	wallRatio := tt.Wall.Seconds() / raw.Seconds()
	last := loads[len(loads)-1]
	s.Rows = append(s.Rows,
		Row{What: "tokentail backfill, wall time", Figure: secs(tt.Wall), Target: "≤ 1.25× raw", Met: met(wallRatio <= 1.25),
			Ratio: ratio(tt.Wall.Seconds(), raw.Seconds()) + " raw"},
		Row{What: "raw loads side by side, wall time (the longer)",
			Figure: fmt.Sprintf("%s (psql \\copy %s ∥ POST /api/v2/write %s)", secs(raw), secs(rawPG), secs(rawInflux))},
		Row{What: "tokentail records/s", Figure: si(n/tt.Wall.Seconds()) + " records/s",
			Ratio: fmt.Sprintf("raw: %s records/s", si(n/raw.Seconds()))},
		Row{What: "tokentail CPU (user+sys, rusage)",
			Figure: fmt.Sprintf("%s (user %s + sys %s)", secs(tt.CPU()), secs(tt.User), secs(tt.Sys))},
		Row{What: "CPU per record", Figure: fmt.Sprintf("%.2f µs", cpuPerRec), Target: "≤ 5 µs", Met: met(cpuPerRec <= 5),
			Ratio: fmt.Sprintf("Telegraf spends 45–50 µs: %.0f× less", 45/cpuPerRec)},
		Row{What: "peak RSS (rusage Maxrss)", Figure: mib(tt.MaxRSSKiB), Target: "< 256 MiB", Met: met(tt.MaxRSSKiB < 256*1024)},
		Row{What: "stored (tokentail / raw)",
			Figure: fmt.Sprintf("rows %d / %d, points %d / %d", last.ttRows, last.rawRows, last.ttPoints, last.rawPoints),
			Target: "every record once",
			Met:    met(last.ttRows == man.Records && last.rawRows == man.Records && last.ttPoints == last.rawPoints)},
	)
	s.Notes = append(s.Notes, "tokentail: "+last.ttSummary)
	if len(loads) > 1 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d rounds, alternating which load went first; times are sums over the rounds", len(loads)))
	}
	if man.Bytes < 380e6 && r.cfg.Records >= 1_000_000 || man.Bytes > 440e6 && r.cfg.Records == 1_000_000 {
		s.Notes = append(s.Notes, fmt.Sprintf("the log is %s, not the ~410 MB of the brief: loggen's realistic shapes average %d bytes a line (BENCH_NOISE sets the share of noise lines)", mb(man.Bytes), man.Bytes/max(man.Lines, 1)))
	}
	return s, nil
}

// convert runs `tokentail parse` over the log and turns its output into the
// raw loads' CSV and line protocol (not timed).
func (r *runner) convert(ctx context.Context, conf, logPath, dir string) (Converted, error) {
	jsonl := filepath.Join(dir, "records.jsonl")
	f, err := os.Create(jsonl)
	if err != nil {
		return Converted{}, err
	}
	cmd := command(ctx, r.bin, "parse", "--config", conf, logPath)
	cmd.Stdout = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Converted{}, fmt.Errorf("tokentail parse: %w: %s", err, lastLines(stderr.String(), 5))
	}
	in, err := os.Open(jsonl)
	if err != nil {
		return Converted{}, err
	}
	defer in.Close()
	csvF, err := os.Create(filepath.Join(dir, "raw.csv"))
	if err != nil {
		return Converted{}, err
	}
	defer csvF.Close()
	lpF, err := os.Create(filepath.Join(dir, "raw.lp"))
	if err != nil {
		return Converted{}, err
	}
	defer lpF.Close()
	conv, err := Convert(in, csvF, lpF, r.cfg.BatchSize)
	if err != nil {
		return conv, fmt.Errorf("convert %s: %w", jsonl, err)
	}
	if err := csvF.Close(); err != nil {
		return conv, err
	}
	if err := lpF.Close(); err != nil {
		return conv, err
	}
	// The JSON is not needed any more: 1M records are ~500 MB.
	return conv, os.Remove(jsonl)
}

// ttLoad runs tokentail backfill into fresh databases.
func (r *runner) ttLoad(ctx context.Context, l *bfLoad, conf, logPath, dir string) error {
	const db = "bf_tt"
	if err := r.srv.FreshDatabases(ctx, db); err != nil {
		return err
	}
	defer r.srv.DropDatabases(context.WithoutCancel(ctx), db)
	os.RemoveAll(filepath.Join(dir, "state-"+db))
	r.log.Info("backfill: tokentail backfill")
	u, out, err := RunMeasured(ctx, filepath.Join(dir, "backfill.log"), r.bin, "backfill", "--config", conf, "--progress=false", logPath)
	if err != nil {
		return err
	}
	l.tt, l.ttSummary = u, string(bytes.TrimSpace(out))
	r.log.Info("backfill: tokentail done", "wall", u.Wall.Round(time.Millisecond), "cpu", u.CPU().Round(time.Millisecond))
	if l.ttRows, err = r.srv.CountRows(ctx, db, "ai_usage_events"); err != nil {
		return err
	}
	l.ttPoints, err = r.srv.InfluxCount(ctx, db)
	return err
}

// rawLoad runs psql \copy and the line-protocol POSTs at once into fresh
// databases.
func (r *runner) rawLoad(ctx context.Context, l *bfLoad, conv Converted, dir string) error {
	const db = "bf_raw"
	if err := r.srv.FreshDatabases(ctx, db); err != nil {
		return err
	}
	defer r.srv.DropDatabases(context.WithoutCancel(ctx), db)
	if err := r.srv.PGExec(ctx, db, RawTableDDL, "CHECKPOINT"); err != nil {
		return err
	}
	r.log.Info("backfill: raw loads")
	var wg sync.WaitGroup
	var pgErr, influxErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		var u Usage
		u, _, pgErr = RunMeasured(ctx, filepath.Join(dir, "psql.log"), filepath.Join(r.srv.PGBin, "psql"),
			"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", fmt.Sprint(r.srv.PGPort), "-U", "tokentail", "-d", db,
			"-c", fmt.Sprintf(`\copy raw_events (%s) FROM '%s' WITH (FORMAT csv)`, RawColumns, filepath.Join(dir, "raw.csv")))
		l.rawPG = u.Wall
	}()
	go func() {
		defer wg.Done()
		l.rawInflux, influxErr = r.postLP(ctx, filepath.Join(dir, "raw.lp"), conv.Batches, db+"/autogen")
	}()
	wg.Wait()
	if pgErr != nil || influxErr != nil {
		return fmt.Errorf("raw load: %w", errors.Join(pgErr, influxErr))
	}
	r.log.Info("backfill: raw done", "psql", l.rawPG.Round(time.Millisecond), "post", l.rawInflux.Round(time.Millisecond))
	var err error
	if l.rawRows, err = r.srv.CountRows(ctx, db, "raw_events"); err != nil {
		return err
	}
	l.rawPoints, err = r.srv.InfluxCount(ctx, db)
	return err
}

// postLP posts the line protocol batch by batch to /api/v2/write, one
// request at a time over one kept-alive connection, as tokentail's writer
// does, and returns the wall time from the first request to the last answer.
func (r *runner) postLP(ctx context.Context, path string, batches []int64, bucket string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	u := r.srv.InfluxURL() + "/api/v2/write?" + url.Values{"org": {""}, "bucket": {bucket}, "precision": {"ns"}}.Encode()
	client := &http.Client{Timeout: 2 * time.Minute}
	var buf []byte
	start := time.Now()
	for i := 0; i+1 < len(batches); i++ {
		n := batches[i+1] - batches[i]
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := f.ReadAt(buf, batches[i]); err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(buf))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("post batch %d: %w", i, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return 0, fmt.Errorf("post batch %d: %s: %s", i, resp.Status, bytes.TrimSpace(body))
		}
	}
	return time.Since(start), nil
}
