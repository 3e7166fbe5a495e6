package influx

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/internal/testenv"
	"github.com/tokentail/tokentail/parse"
)

// influxInt is the single integer a count or sum query returns.
func influxInt(t *testing.T, tgt testenv.InfluxTarget, q string) int64 {
	t.Helper()
	series := tgt.Query(t, q)
	if len(series) != 1 || len(series[0].Values) != 1 || len(series[0].Values[0]) != 2 {
		t.Fatalf("query %q: got %+v, want one value", q, series)
	}
	n, err := series[0].Values[0][1].(json.Number).Int64()
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	return n
}

// influxStrings is column col of every row q returns.
func influxStrings(t *testing.T, tgt testenv.InfluxTarget, q string, col string) []string {
	t.Helper()
	var out []string
	for _, s := range tgt.Query(t, q) {
		for _, v := range s.Column(col) {
			out = append(out, v.(string))
		}
	}
	return out
}

func newIntegrationWriter(t testing.TB, cfg Config) *Writer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	if err := w.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return w
}

// clusteredRecords returns n records with the same tags, all in the same
// second (or millisecond), as a busy service logs them.
func clusteredRecords(n int, at time.Time, prefix string) []parse.Record {
	recs := make([]parse.Record, n)
	for i := range recs {
		r := sampleRecord()
		r.EventID = fmt.Sprintf("%s-%d", prefix, i)
		r.OccurredAt = at
		r.InputTokens = int64(i + 1)
		recs[i] = r
	}
	return recs
}

func distinctTimes(recs []parse.Record, unit int64) int {
	seen := map[int64]bool{}
	for i := range recs {
		seen[PointTime(&recs[i])/unit] = true
	}
	return len(seen)
}

func TestInflux_OnePointPerRecord(t *testing.T) {
	tgt := testenv.Influx(t)
	w := newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: tgt.Bucket})

	sec := time.Now().Truncate(time.Second).Add(-time.Hour)
	recs := append(clusteredRecords(2000, sec, "s"), clusteredRecords(300, sec.Add(1500*time.Millisecond), "ms")...)
	if got := distinctTimes(recs, 1); got != len(recs) {
		t.Fatalf("fixture: %d distinct timestamps for %d records; pick other ids", got, len(recs))
	}
	var wantSum int64
	for i := range recs {
		wantSum += recs[i].InputTokens
	}

	for pass := 1; pass <= 2; pass++ { // the second pass is a re-read of the same file
		res, err := w.Write(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Written != len(recs) || res.Refused != 0 {
			t.Fatalf("pass %d: got written %d refused %d, want %d and 0", pass, res.Written, res.Refused, len(recs))
		}
		if got, want := influxInt(t, tgt, "SELECT count(input_tokens) FROM ai_usage"), int64(len(recs)); got != want {
			t.Errorf("pass %d: got %d points, want %d", pass, got, want)
		}
		if got := influxInt(t, tgt, "SELECT sum(input_tokens) FROM ai_usage"); got != wantSum {
			t.Errorf("pass %d: got sum(input_tokens) %d, want %d", pass, got, wantSum)
		}
	}
}

func TestInflux_TagsAndFields(t *testing.T) {
	tgt := testenv.Influx(t)
	hostile := []string{"a b,c=d", `x\,y`, "line\nbreak", `ends\`, `C:\Users\q`, `"quoted"`, "ünï ☃", "# hash"}

	for _, userTag := range []bool{false, true} {
		measurement := fmt.Sprintf("ai_usage_user_%v", userTag)
		w := newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: tgt.Bucket, UserTag: userTag, Measurement: measurement})
		at := time.Now().Truncate(time.Millisecond).Add(-time.Hour)
		var recs []parse.Record
		for i, v := range hostile {
			r := sampleRecord()
			r.EventID, r.OccurredAt = fmt.Sprintf("h-%d", i), at
			r.Feature = v
			r.Labels = []parse.Label{{Key: "service", Value: "quiz-api"}, {Key: "team " + v, Value: v}}
			recs = append(recs, r)
		}
		res, err := w.Write(context.Background(), recs)
		if err != nil || res.Written != len(recs) {
			t.Fatalf("got %+v, %v; want all %d written", res, err, len(recs))
		}

		gotFeatures := influxStrings(t, tgt, `SHOW TAG VALUES FROM `+measurement+` WITH KEY = "feature"`, "value")
		var wantFeatures []string
		for _, v := range hostile {
			wantFeatures = append(wantFeatures, storedValue(v))
		}
		slices.Sort(gotFeatures)
		slices.Sort(wantFeatures)
		if !slices.Equal(gotFeatures, wantFeatures) {
			t.Errorf("feature values: got %q, want %q", gotFeatures, wantFeatures)
		}

		keys := influxStrings(t, tgt, `SHOW TAG KEYS FROM `+measurement, "tagKey")
		for _, k := range []string{"feature", "model", "provider", "service", "source", "status", "team " + storedValue(hostile[0])} {
			if !slices.Contains(keys, k) {
				t.Errorf("tag keys %q lack %q", keys, k)
			}
		}
		if got := slices.Contains(keys, "user"); got != userTag {
			t.Errorf("UserTag %v: user tag present %v", userTag, got)
		}
		if n := influxInt(t, tgt, `SELECT count(duration_ms) FROM `+measurement+` WHERE "team a b,c=d" = 'a b,c=d'`); n != 1 {
			t.Errorf("selecting by a hostile label: got %d points, want 1", n)
		}
	}
}

// TestInflux_FieldTypeConflict makes the real server refuse part of a
// batch: field types are fixed per shard (a week, by default), so a float
// input_tokens planted in one week makes that week's integer points
// conflict while the next week's land.
func TestInflux_FieldTypeConflict(t *testing.T) {
	tgt := testenv.Influx(t)
	w := newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: tgt.Bucket})

	bad := time.Date(2025, 1, 8, 12, 0, 0, 0, time.UTC) // Wednesday of one shard week
	good := bad.Add(14 * 24 * time.Hour)
	tgt.Write(t, fmt.Sprintf("ai_usage,model=planted input_tokens=1.5 %d\n", bad.UnixNano()))

	recs := clusteredRecords(100, good, "g")
	wantBad := []int{3, 50, 51, 99}
	for _, i := range wantBad {
		recs[i].OccurredAt = bad
	}
	res, err := w.Write(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 96 || res.Refused != 4 {
		t.Errorf("got written %d refused %d, want 96 and 4", res.Written, res.Refused)
	}
	for i, rf := range res.Refusals {
		if rf.Index != wantBad[i] || !strings.Contains(rf.Reason, "field type conflict") {
			t.Errorf("refusal %d: got %+v, want record %d refused for a field type conflict", i, rf, wantBad[i])
		}
	}
	if got := influxInt(t, tgt, "SELECT count(input_tokens) FROM ai_usage WHERE model = 'gpt-4o-mini'"); got != 96 {
		t.Errorf("got %d points stored, want 96", got)
	}
}

func TestInflux_Ping(t *testing.T) {
	tgt := testenv.Influx(t)
	w := newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: tgt.Bucket})
	if err := w.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// vmRecords marks recs with the test's VictoriaMetrics label, which
// isolates its series on the shared server.
func vmRecords(tgt testenv.VMTarget, recs []parse.Record) []parse.Record {
	for i := range recs {
		recs[i].Labels = append(recs[i].Labels, parse.Label{Key: testenv.VMLabel, Value: tgt.Run})
	}
	return recs
}

// TestVictoriaMetrics_OnePointPerRecord writes through the same writer to
// VictoriaMetrics, which stores field f of measurement m as metric m_f
// with millisecond timestamps and (on the harness, as in deployments)
// -dedup.minScrapeInterval=1ms. Records with distinct milliseconds after
// the offset give one sample each, and a second write adds nothing. The
// count is of raw samples in /api/v1/export, after /internal/force_flush.
func TestVictoriaMetrics_OnePointPerRecord(t *testing.T) {
	tgt := testenv.VictoriaMetrics(t)
	w := newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: "tokentail"})

	// VictoriaMetrics keeps a month by default: stay recent.
	at := time.Now().Truncate(time.Second).Add(-time.Hour)
	var recs []parse.Record
	for i := range 50 { // 50 seconds with 10 calls each, as a busy service logs them
		recs = append(recs, clusteredRecords(10, at.Add(time.Duration(i)*time.Second), fmt.Sprintf("vm%d", i))...)
	}
	recs = append(recs, clusteredRecords(20, at.Add(-time.Minute+7*time.Millisecond), "ms")...) // one millisecond
	recs = vmRecords(tgt, recs)
	distinct := distinctTimes(recs, 1e6)
	t.Logf("%d records, %d distinct milliseconds", len(recs), distinct)

	for pass := 1; pass <= 2; pass++ {
		res, err := w.Write(context.Background(), recs)
		if err != nil || res.Written != len(recs) {
			t.Fatalf("pass %d: got %+v, %v", pass, res, err)
		}
		if got := tgt.Samples(t, "ai_usage_input_tokens", distinct); got != distinct {
			t.Errorf("pass %d: got %d samples, want %d (one per distinct millisecond)", pass, got, distinct)
		}
	}
	// The 500 second-precision records spread over 1000 ms each: a
	// handful may share one. The 20 in one millisecond must collapse to 1.
	if lost := len(recs) - distinct; lost < 19 || lost > 19+10 {
		t.Errorf("got %d records collapsed, want 19 from the millisecond cluster plus a few", lost)
	}
}

func TestVictoriaMetrics_Ping(t *testing.T) {
	tgt := testenv.VictoriaMetrics(t)
	newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: "tokentail"})
}

func TestVictoriaMetrics_TagValues(t *testing.T) {
	tgt := testenv.VictoriaMetrics(t)
	w := newIntegrationWriter(t, Config{URL: tgt.URL, Bucket: "tokentail"})
	hostile := []string{"a b,c=d", `x\,y`, "line\nbreak", `ends\`, `C:\Users\q`, `two\\b`, `"quoted"`, "ünï ☃"}
	at := time.Now().Truncate(time.Second).Add(-time.Hour)
	var recs []parse.Record
	for i, v := range hostile {
		r := sampleRecord()
		r.EventID, r.OccurredAt, r.Feature = fmt.Sprintf("h-%d", i), at.Add(time.Duration(i)*time.Second), v
		recs = append(recs, r)
	}
	recs = vmRecords(tgt, recs)
	if res, err := w.Write(context.Background(), recs); err != nil || res.Written != len(recs) {
		t.Fatalf("got %+v, %v", res, err)
	}
	if n := tgt.Samples(t, "ai_usage_input_tokens", len(recs)); n != len(recs) {
		t.Fatalf("got %d samples, want %d: VictoriaMetrics skipped a line it could not parse", n, len(recs))
	}
	var got []string
	for _, s := range tgt.Export(t, tgt.Selector("ai_usage_input_tokens")) {
		got = append(got, s.Metric["feature"])
	}
	var want []string
	for _, v := range hostile {
		want = append(want, storedValue(v))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("feature values: got %q, want %q", got, want)
	}
}
