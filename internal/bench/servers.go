package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Servers are the run's private PostgreSQL and InfluxDB, started and stopped
// with scripts/testenv.sh on the run's own ports and directory, so a bench
// never meets a test run's servers.
type Servers struct {
	script string
	env    []string
	dir    string
	log    *slog.Logger

	PGPort     int
	InfluxPort int
	// PGBin is the directory holding psql.
	PGBin string
	// pgRoot is where the cluster lives (testenv.sh may put it under /tmp).
	pgRoot string
}

// NewServers prepares (does not start) the servers of cfg under dir.
func NewServers(cfg *Config, dir string, log *slog.Logger) *Servers {
	env := append(os.Environ(),
		"TOKENTAIL_TESTENV_DIR="+dir,
		"TOKENTAIL_TEST_PG_PORT="+strconv.Itoa(cfg.PGPort),
		"TOKENTAIL_TEST_INFLUX_PORT="+strconv.Itoa(cfg.InfluxPort),
		"TOKENTAIL_TEST_INFLUX_RPC_PORT="+strconv.Itoa(cfg.InfluxRPCPort),
		"TOKENTAIL_TEST_VM_PORT="+strconv.Itoa(cfg.VMPort),
	)
	return &Servers{
		script:     filepath.Join(cfg.Repo, "scripts", "testenv.sh"),
		env:        env,
		dir:        dir,
		log:        log,
		PGPort:     cfg.PGPort,
		InfluxPort: cfg.InfluxPort,
	}
}

// testenv runs scripts/testenv.sh with args. Its progress goes to the log
// at debug level; on failure its last lines are in the error.
func (s *Servers) testenv(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.script, args...)
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	s.log.Debug("testenv", "args", strings.Join(args, " "), "took", time.Since(start).Round(time.Millisecond), "stderr", stderr.String())
	if err != nil {
		return "", fmt.Errorf("testenv.sh %s: %w: %s", strings.Join(args, " "), err, lastLines(stderr.String(), 10))
	}
	return stdout.String(), nil
}

// Start starts PostgreSQL and InfluxDB (not VictoriaMetrics: nothing here
// uses it) and finds psql.
func (s *Servers) Start(ctx context.Context) error {
	if _, err := s.testenv(ctx, "start-pg"); err != nil {
		return err
	}
	if _, err := s.testenv(ctx, "start-influx"); err != nil {
		return err
	}
	out, err := s.testenv(ctx, "env")
	if err != nil {
		return err
	}
	vars := parseExports(out)
	s.PGBin = vars["TOKENTAIL_TEST_PG_BIN"]
	if d := vars["TOKENTAIL_TEST_PG_DATA"]; d != "" {
		s.pgRoot = filepath.Dir(d)
	}
	if s.PGBin == "" {
		return fmt.Errorf("testenv.sh env: no TOKENTAIL_TEST_PG_BIN")
	}
	return nil
}

// Stop stops every server (safe to call twice, and when none started) and
// removes a cluster testenv.sh placed outside the work directory. It takes
// no context: it must run after the run's context is cancelled.
func (s *Servers) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := s.testenv(ctx, "stop")
	if err == nil && s.pgRoot != "" && !strings.HasPrefix(s.pgRoot, s.dir+string(filepath.Separator)) {
		err = os.RemoveAll(s.pgRoot)
	}
	return err
}

// StopPG stops PostgreSQL cleanly (an outage); StartPG brings it back with its data.
func (s *Servers) StopPG(ctx context.Context) error { _, err := s.testenv(ctx, "stop-pg"); return err }

// StartPG restarts PostgreSQL after StopPG, keeping its data.
func (s *Servers) StartPG(ctx context.Context) error {
	_, err := s.testenv(ctx, "start-pg")
	return err
}

// StopInflux stops InfluxDB (an outage).
func (s *Servers) StopInflux(ctx context.Context) error {
	_, err := s.testenv(ctx, "stop-influx")
	return err
}

// StartInflux restarts InfluxDB after StopInflux, keeping its data.
func (s *Servers) StartInflux(ctx context.Context) error {
	_, err := s.testenv(ctx, "start-influx")
	return err
}

// DSN is the URL of database db on the private cluster.
func (s *Servers) DSN(db string) string {
	return fmt.Sprintf("postgres://tokentail@127.0.0.1:%d/%s?sslmode=disable", s.PGPort, db)
}

// InfluxURL is the base URL of the private InfluxDB.
func (s *Servers) InfluxURL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.InfluxPort) }

// PGExec runs sql statements, one after another, in database db.
func (s *Servers) PGExec(ctx context.Context, db string, sql ...string) error {
	conn, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db, err)
	}
	defer conn.Close(context.Background())
	for _, q := range sql {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", firstWords(q), err)
		}
	}
	return nil
}

// PGQueryRow runs a query in db and scans its one row into dst.
func (s *Servers) PGQueryRow(ctx context.Context, db, sql string, dst ...any) error {
	conn, err := pgx.Connect(ctx, s.DSN(db))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db, err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(ctx, sql).Scan(dst...); err != nil {
		return fmt.Errorf("%s: %w", firstWords(sql), err)
	}
	return nil
}

// CountRows is the number of rows of table in db.
func (s *Servers) CountRows(ctx context.Context, db, table string) (int64, error) {
	var n int64
	err := s.PGQueryRow(ctx, db, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize(), &n)
	return n, err
}

// FreshDatabases drops and creates a PostgreSQL database and an InfluxDB
// database named name, and forces a checkpoint so that one load does not
// pay for the dirty pages of the one before.
func (s *Servers) FreshDatabases(ctx context.Context, name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	if err := s.PGExec(ctx, "postgres", "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)", "CREATE DATABASE "+ident, "CHECKPOINT"); err != nil {
		return err
	}
	if _, err := s.InfluxQuery(ctx, "", "DROP DATABASE "+influxIdent(name)); err != nil {
		return err
	}
	_, err := s.InfluxQuery(ctx, "", "CREATE DATABASE "+influxIdent(name))
	return err
}

// DropDatabases removes what FreshDatabases made (best effort: used in cleanup).
func (s *Servers) DropDatabases(ctx context.Context, name string) error {
	err1 := s.PGExec(ctx, "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	_, err2 := s.InfluxQuery(ctx, "", "DROP DATABASE "+influxIdent(name))
	if err1 != nil {
		return err1
	}
	return err2
}

// Checkpoint flushes PostgreSQL's dirty pages now, not during the next load.
func (s *Servers) Checkpoint(ctx context.Context) error {
	return s.PGExec(ctx, "postgres", "CHECKPOINT")
}

func influxIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `\"`) + `"` }

// InfluxQuery runs an InfluxQL statement (POST /query) and returns the body.
func (s *Servers) InfluxQuery(ctx context.Context, db, q string) ([]byte, error) {
	form := url.Values{"q": {q}}
	if db != "" {
		form.Set("db", db)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.InfluxURL()+"/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influx %s: %w", firstWords(q), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("influx %s: %w", firstWords(q), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("influx %s: %s: %s", firstWords(q), resp.Status, bytes.TrimSpace(body))
	}
	var r struct {
		Results []struct {
			Error string `json:"error"`
		} `json:"results"`
	}
	if json.Unmarshal(body, &r) == nil {
		for _, res := range r.Results {
			if res.Error != "" {
				return nil, fmt.Errorf("influx %s: %s", firstWords(q), res.Error)
			}
		}
	}
	return body, nil
}

// InfluxCount is the number of points of measurement ai_usage in db (counted
// on the input_tokens field, which every point has).
func (s *Servers) InfluxCount(ctx context.Context, db string) (int64, error) {
	body, err := s.InfluxQuery(ctx, db, `SELECT count("input_tokens") FROM "ai_usage"`)
	if err != nil {
		return 0, err
	}
	return parseInfluxCount(body)
}

// parseInfluxCount reads the count of a SELECT count(...) answer; no series
// (an empty database) is 0.
func parseInfluxCount(body []byte) (int64, error) {
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&r); err != nil {
		return 0, fmt.Errorf("influx count: %w", err)
	}
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 || len(r.Results[0].Series[0].Values) == 0 {
		return 0, nil
	}
	row := r.Results[0].Series[0].Values[0]
	if len(row) < 2 {
		return 0, fmt.Errorf("influx count: row %v has no count", row)
	}
	n, ok := row[1].(json.Number)
	if !ok {
		return 0, fmt.Errorf("influx count: %v is not a number", row[1])
	}
	return n.Int64()
}

// parseExports reads the `export NAME=value` lines of testenv.sh env
// (values are %q-quoted by bash's printf; ours hold no specials but quotes).
func parseExports(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		m[k] = strings.ReplaceAll(v, `\ `, " ")
	}
	return m
}

func firstWords(q string) string {
	f := strings.Fields(q)
	if len(f) > 3 {
		f = f[:3]
	}
	return strings.Join(f, " ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
