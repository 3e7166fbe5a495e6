package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// InfluxTarget is a test's own database on the harness InfluxDB 1.8, with the fields the v2
// client and the writer's config take.
type InfluxTarget struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:58086.
	URL string
	// Org is empty: InfluxDB 1.8 ignores the organisation.
	Org string
	// Bucket is DB + "/autogen": 1.8's v2-compatible endpoints name a database/retention-policy.
	Bucket string
	// Token is empty: authentication is off on the harness server.
	Token string
	// DB is the test's database, for InfluxQL.
	DB string
}

// InfluxSeries is one series of an InfluxQL result. Numbers in Values are json.Number, so
// integer fields and nanosecond times come back exact; the time column is epoch nanoseconds.
type InfluxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Column returns the values of the named column, one per row; nil when there is no such column.
func (s InfluxSeries) Column(name string) []any {
	for i, c := range s.Columns {
		if c != name {
			continue
		}
		col := make([]any, len(s.Values))
		for j, row := range s.Values {
			col[j] = row[i]
		}
		return col
	}
	return nil
}

// Influx creates an empty database for this test on the harness InfluxDB and returns where it
// is. The database is dropped in t.Cleanup.
func Influx(t testing.TB) InfluxTarget {
	t.Helper()
	base := strings.TrimRight(getenv(t, EnvInfluxURL), "/")
	it := InfluxTarget{URL: base, DB: uniqueName(t)}
	it.Bucket = it.DB + "/autogen"
	if _, err := influxQL(http.MethodPost, base, "", "CREATE DATABASE "+quoteIdent(it.DB)); err != nil {
		t.Fatalf("testenv: create influx database %s: %v", it.DB, err)
	}
	t.Cleanup(func() {
		if _, err := influxQL(http.MethodPost, base, "", "DROP DATABASE "+quoteIdent(it.DB)); err != nil {
			t.Errorf("testenv: drop influx database %s: %v", it.DB, err)
		}
	})
	return it
}

// Query runs an InfluxQL query against the test's database and returns the series of its
// first statement; a query error fails the test.
func (it InfluxTarget) Query(t testing.TB, influxql string) []InfluxSeries {
	t.Helper()
	series, err := influxQL(http.MethodGet, it.URL, it.DB, influxql)
	if err != nil {
		t.Fatalf("testenv: influx query %q: %v", influxql, err)
	}
	return series
}

// CountPoints returns how many points the measurement holds, whatever their fields: the rows
// of SELECT *, since COUNT counts each field apart.
func (it InfluxTarget) CountPoints(t testing.TB, measurement string) int {
	t.Helper()
	n := 0
	for _, s := range it.Query(t, "SELECT * FROM "+quoteIdent(measurement)) {
		n += len(s.Values)
	}
	return n
}

// Write posts line protocol with nanosecond times to the test's bucket through the
// v2-compatible endpoint, as the writer does.
func (it InfluxTarget) Write(t testing.TB, lines string) {
	t.Helper()
	q := url.Values{"bucket": {it.Bucket}, "org": {it.Org}, "precision": {"ns"}}
	if err := postLines(it.URL+"/api/v2/write?"+q.Encode(), lines); err != nil {
		t.Fatalf("testenv: influx write: %v", err)
	}
}

func postLines(u, lines string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(lines))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post %s: %s: %s", u, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// influxQL runs one InfluxQL statement through /query; statements that change the server
// must be POSTed.
func influxQL(method, base, db, q string) ([]InfluxSeries, error) {
	return influxQLWith(http.DefaultClient, method, base, db, q)
}

// influxQLWith is influxQL through client (an https server's, with its CA).
func influxQLWith(client *http.Client, method, base, db, q string) ([]InfluxSeries, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	params := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		params.Set("db", db)
	}
	u := base + "/query?" + params.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query the harness InfluxDB (is it running? %s): %w", startHint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	var out struct {
		Results []struct {
			Series []InfluxSeries `json:"series"`
			Error  string         `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%s: decode %q: %w", resp.Status, truncate(body), err)
	}
	switch {
	case out.Error != "":
		return nil, fmt.Errorf("%s: %s", resp.Status, out.Error)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%s: %s", resp.Status, truncate(body))
	case len(out.Results) == 0:
		return nil, nil
	case out.Results[0].Error != "":
		return nil, fmt.Errorf("%s", out.Results[0].Error)
	}
	return out.Results[0].Series, nil
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func truncate(b []byte) string {
	if len(b) > 512 {
		return string(b[:512]) + "..."
	}
	return string(b)
}
