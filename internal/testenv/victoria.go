package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// VMLabel is the label that isolates one test's series on the shared VictoriaMetrics, which
// has no databases: every point a test writes carries VMLabel=VMTarget.Run.
const VMLabel = "tokentail_test"

// visibleWithin bounds how long VictoriaMetrics may take to make a written sample searchable.
// Even after /internal/force_flush a sample can need about a second (measured: 0.7-0.9s),
// so reads poll; this is the one place the harness waits on a clock.
const visibleWithin = 15 * time.Second

// VMTarget is a test's own slice of the harness VictoriaMetrics.
//
// VictoriaMetrics accepts the InfluxDB line protocol at URL+"/write" and URL+"/api/v2/write"
// (bucket, org and token are ignored) and stores measurement m with field f as metric m_f
// (ai_usage_cost_usd), tags as labels, at millisecond resolution. The harness runs it with
// -dedup.minScrapeInterval=1ms, as a tokentail deployment must: two samples of one series in
// the same millisecond are one sample, which is how a re-read record does not count twice.
//
// Tests isolate by label: give the writer Labels() as its configured labels (or add the tag
// to every line); Samples, Export and the cleanup look only at series with that label.
type VMTarget struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:58428.
	URL string
	// Run is this test's value of VMLabel.
	Run string
}

// VMSeries is one series as /api/v1/export returns it; timestamps are Unix milliseconds.
type VMSeries struct {
	Metric     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// VictoriaMetrics returns this test's target on the harness VictoriaMetrics; its series are
// deleted in t.Cleanup. VictoriaMetrics is optional: when the harness could not install it
// (TOKENTAIL_TEST_VM_SKIP says why) the test skips even under TOKENTAIL_REQUIRE_SERVERS=1.
func VictoriaMetrics(t testing.TB) VMTarget {
	t.Helper()
	if reason := os.Getenv(EnvVMSkip); reason != "" {
		t.Skip("testenv: " + reason)
	}
	v := VMTarget{URL: strings.TrimRight(getenv(t, EnvVMURL), "/"), Run: uniqueName(t)}
	if _, err := vmGet(v.URL+"/health", nil); err != nil {
		t.Fatalf("testenv: VictoriaMetrics (is it running? %s): %v", startHint, err)
	}
	t.Cleanup(func() {
		q := url.Values{"match[]": {v.Selector("")}}
		if err := vmPost(v.URL+"/api/v1/admin/tsdb/delete_series", q); err != nil {
			t.Errorf("testenv: delete VictoriaMetrics series of %s: %v", v.Run, err)
		}
	})
	return v
}

// Labels returns the label that marks this test's series, for the writer's configured labels.
func (v VMTarget) Labels() map[string]string {
	return map[string]string{VMLabel: v.Run}
}

// Selector returns a series selector for metric (all metrics when "") limited to this test.
func (v VMTarget) Selector(metric string) string {
	if metric == "" {
		return fmt.Sprintf("{%s=%q}", VMLabel, v.Run)
	}
	return fmt.Sprintf("{__name__=%q,%s=%q}", metric, VMLabel, v.Run)
}

// Write posts line protocol with nanosecond times through the v2-compatible endpoint, adding
// this test's label to every line (extra_label), so lines need not carry it.
func (v VMTarget) Write(t testing.TB, lines string) {
	t.Helper()
	q := url.Values{"precision": {"ns"}, "extra_label": {VMLabel + "=" + v.Run}}
	if err := postLines(v.URL+"/api/v2/write?"+q.Encode(), lines); err != nil {
		t.Fatalf("testenv: VictoriaMetrics write: %v", err)
	}
}

// Flush asks VictoriaMetrics to make what it received searchable. It is not enough on its
// own (see Samples), but it shortens the wait.
func (v VMTarget) Flush(t testing.TB) {
	t.Helper()
	if _, err := vmGet(v.URL+"/internal/force_flush", nil); err != nil {
		t.Fatalf("testenv: VictoriaMetrics force_flush: %v", err)
	}
}

// Export flushes and returns the raw samples of the series that match selector, which
// should come from Selector so that it sees only this test's series.
func (v VMTarget) Export(t testing.TB, selector string) []VMSeries {
	t.Helper()
	v.Flush(t)
	body, err := vmGet(v.URL+"/api/v1/export", url.Values{"match[]": {selector}})
	if err != nil {
		t.Fatalf("testenv: VictoriaMetrics export %s: %v", selector, err)
	}
	var out []VMSeries
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 64*1024*1024)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var s VMSeries
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("testenv: VictoriaMetrics export %s: decode %q: %v", selector, truncate(sc.Bytes()), err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("testenv: VictoriaMetrics export %s: %v", selector, err)
	}
	return out
}

// Samples returns how many samples of metric this test's series hold, once at least want
// are searchable or visibleWithin has passed. A written sample becomes searchable only
// after a delay, so a count read at once would be low; a count above want (a duplicate) is
// returned as soon as it shows, and the caller compares got with want.
func (v VMTarget) Samples(t testing.TB, metric string, want int) int {
	t.Helper()
	deadline := time.Now().Add(visibleWithin)
	for {
		got := 0
		for _, s := range v.Export(t, v.Selector(metric)) {
			got += len(s.Values)
		}
		if got >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func vmGet(u string, q url.Values) ([]byte, error) {
	if q != nil {
		u += "?" + q.Encode()
	}
	return vmDo(http.MethodGet, u, nil)
}

func vmPost(u string, form url.Values) error {
	_, err := vmDo(http.MethodPost, u, form)
	return err
}

func vmDo(method, u string, form url.Values) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read: %w", method, u, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, truncate(b))
	}
	return b, nil
}
