package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentail/tokentail/internal/loggen"
	"github.com/tokentail/tokentail/parse"
)

// run runs tokentail in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}
	err := m.Run(context.Background(), args)
	if err != nil && err != errSilent {
		fmt.Fprintln(&errOut, "tokentail: "+err.Error())
	}
	return exitCode(err), out.String(), errOut.String()
}

// TestParse_GeneratedLogs runs `tokentail parse` over generated logs of every
// envelope and layout, noise and malformed lines included, and checks that it
// prints exactly one record per valid line and one reject per bad one, with
// the generator's exact sums.
func TestParse_GeneratedLogs(t *testing.T) {
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
sources:
  - name: marker
    paths: ["%[1]s/marker-*.log"]
    format: auto
    max_line_bytes: 65536
  - name: whole
    paths: ["%[1]s/json-*.log"]
    marker: ""
    match: {type: ai_cost}
    max_line_bytes: 65536
`, dir)
	cfgPath := filepath.Join(dir, "tokentail.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var want loggen.Manifest
	var files []string
	for i, env := range []loggen.Envelope{loggen.Plain, loggen.Docker, loggen.CRI} {
		for j, layout := range []loggen.Layout{loggen.MarkerLayout, loggen.JSONLayout} {
			name := "marker"
			if layout == loggen.JSONLayout {
				name = "json"
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.log", name, env))
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			g := loggen.New(loggen.Options{Seed: uint64(10*i + j + 1), Envelope: env, Layout: layout,
				Noise: 0.3, Malformed: 0.05, NoCost: 0.2, NoID: 0.1, NoTime: 0.05,
				MaxLineBytes: 65536, SplitBytes: 2000})
			man, err := g.WriteN(f, 3000)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want.Merge(man)
			files = append(files, path)
		}
	}

	code, stdout, stderr := run(t, append([]string{"parse", "--config", cfgPath}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, truncateOut(stderr))
	}

	var records, logCostRecords int64
	var cost parse.Money
	var in, cached, out int64
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct {
			CostUSD    json.Number `json:"cost_usd"`
			CostSource string      `json:"cost_source"`
			In         int64       `json:"input_tokens"`
			Cached     int64       `json:"cached_input_tokens"`
			Out        int64       `json:"output_tokens"`
		}
		d := json.NewDecoder(strings.NewReader(sc.Text()))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			t.Fatalf("stdout line %d is not JSON: %v: %s", records+1, err, sc.Text())
		}
		records++
		in, cached, out = in+r.In, cached+r.Cached, out+r.Out
		if r.CostSource == "log" {
			m, err := parse.ParseMoney(r.CostUSD.String())
			if err != nil {
				t.Fatalf("cost %q: %v", r.CostUSD, err)
			}
			cost += m
			logCostRecords++
		}
	}
	if records != want.Records {
		t.Errorf("records: got %d, want %d", records, want.Records)
	}
	if logCostRecords != want.Records-want.RecordsWithoutCost {
		t.Errorf("records with a logged cost: got %d, want %d", logCostRecords, want.Records-want.RecordsWithoutCost)
	}
	if cost != want.Cost {
		t.Errorf("sum of logged costs: got %s, want %s", cost, want.Cost)
	}
	if in != want.InputTokens || cached != want.CachedInputTokens || out != want.OutputTokens {
		t.Errorf("tokens in/cached/out: got %d/%d/%d, want %d/%d/%d", in, cached, out, want.InputTokens, want.CachedInputTokens, want.OutputTokens)
	}

	gotRejects := map[parse.Reason]int64{}
	var rejects int64
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, ": ", 3)
		if len(parts) < 3 {
			t.Fatalf("stderr line is not FILE:OFFSET: REASON: DETAIL: %q", line)
		}
		gotRejects[parse.Reason(parts[1])]++
		rejects++
	}
	if rejects != want.Malformed {
		t.Errorf("rejects: got %d, want %d", rejects, want.Malformed)
	}
	for reason, n := range want.Rejects {
		if gotRejects[reason] != n {
			t.Errorf("rejects %s: got %d, want %d", reason, gotRejects[reason], n)
		}
	}
	for reason, n := range gotRejects {
		if _, ok := want.Rejects[reason]; !ok {
			t.Errorf("unexpected rejects %s: %d", reason, n)
		}
	}
}

func truncateOut(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

func TestParse_ExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sources:\n  - name: a\n    paths: [x]\n    formt: plain\n"), 0o600)
	tests := []struct {
		args []string
		code int
		in   string
	}{
		{[]string{"version"}, 0, "tokentail "},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"parse", "--config", bad}, 2, "bad.yaml:4"},
		{[]string{"parse", "--config", filepath.Join(dir, "missing.yaml")}, 2, "missing.yaml"},
		{[]string{"parse", filepath.Join(dir, "no-such.log")}, 1, "no-such.log"},
		{[]string{"config", "check", "--config", bad}, 2, "sources[0].formt"},
	}
	for _, tt := range tests {
		code, stdout, stderr := run(t, tt.args...)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.in) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tt.args, code, stdout+stderr, tt.code, tt.in)
		}
	}
}
