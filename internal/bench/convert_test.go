package bench

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/influx"
)

// parseFixture parses testdata/convert/app.log (tokentail-loggen batch
// --records 300 --noise 0.3 --error-rate 0.2 --no-id 0.3 --seed 7) as
// `tokentail parse` does, and returns the records and their JSON lines.
func parseFixture(t *testing.T) ([]parse.Record, []byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/convert/app.log")
	if err != nil {
		t.Fatal(err)
	}
	pt, err := parse.NewPriceTable([]parse.Price{
		{Match: "gpt-4o-mini*", Input: "0.15", CachedInput: "0.075", Output: "0.60"},
		{Match: "gpt-4.1*", Input: "2", CachedInput: "0.5", Output: "8"},
		{Match: "claude-*", Input: "3", CachedInput: "0.30", Output: "15"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := parse.NewParser(parse.Config{Source: "bench", Marker: parse.DefaultMarker, Pricing: pt})
	if err != nil {
		t.Fatal(err)
	}
	dec := parse.NewDecoder(parse.FormatAuto, "app.log", parse.DefaultMaxLineBytes)
	arena := parse.NewArena(0)
	var (
		recs  []parse.Record
		jsonl []byte
		rec   parse.Record
		rej   parse.Reject
		off   int64
	)
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			break
		}
		end := off + int64(len(line))
		msg, res, _ := dec.Decode(bytes.TrimSuffix(line, []byte("\n")), off, end)
		off = end
		if res != parse.Decoded {
			continue
		}
		if p.Parse(&msg, now, arena, &rec, &rej) == parse.Parsed {
			recs = append(recs, rec.Clone())
			jsonl = append(rec.AppendJSON(jsonl), '\n')
		}
	}
	if len(recs) < 250 {
		t.Fatalf("fixture parsed into %d records, want about 300", len(recs))
	}
	return recs, jsonl
}

// TestConvert_SamePointsAsWriter checks the raw load's line protocol against
// what tokentail's InfluxDB writer sends for the same records, byte for byte.
func TestConvert_SamePointsAsWriter(t *testing.T) {
	recs, jsonl := parseFixture(t)

	var mu sync.Mutex
	var sent bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		sent.Write(b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, err := influx.New(influx.Config{URL: srv.URL, Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}

	var csvOut, lpOut bytes.Buffer
	conv, err := Convert(bytes.NewReader(jsonl), &csvOut, &lpOut, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := conv.Records, len(recs); got != want {
		t.Fatalf("records: got %d, want %d", got, want)
	}
	gotLines := strings.Split(lpOut.String(), "\n")
	wantLines := strings.Split(sent.String(), "\n")
	if len(gotLines) != len(wantLines) {
		t.Fatalf("line protocol: got %d lines, want %d", len(gotLines), len(wantLines))
	}
	for i := range gotLines {
		if gotLines[i] != wantLines[i] {
			t.Fatalf("point %d:\n got %s\nwant %s", i, gotLines[i], wantLines[i])
		}
	}
	if got, want := conv.LPBytes, int64(lpOut.Len()); got != want {
		t.Errorf("LPBytes: got %d, want %d", got, want)
	}
}

func TestConvert_Batches(t *testing.T) {
	recs, jsonl := parseFixture(t)
	var csvOut, lpOut bytes.Buffer
	conv, err := Convert(bytes.NewReader(jsonl), &csvOut, &lpOut, 100)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(conv.Batches), (len(recs)+99)/100+1; got != want {
		t.Fatalf("batch offsets: got %d, want %d", got, want)
	}
	lp := lpOut.Bytes()
	total := 0
	for i := 0; i+1 < len(conv.Batches); i++ {
		batch := lp[conv.Batches[i]:conv.Batches[i+1]]
		n := bytes.Count(batch, []byte("\n"))
		if i+2 < len(conv.Batches) && n != 100 {
			t.Errorf("batch %d: got %d points, want 100", i, n)
		}
		if len(batch) > 0 && batch[len(batch)-1] != '\n' {
			t.Errorf("batch %d does not end at a line end", i)
		}
		total += n
	}
	if got, want := total, len(recs); got != want {
		t.Errorf("points over all batches: got %d, want %d", got, want)
	}
	if got, want := conv.Batches[len(conv.Batches)-1], int64(len(lp)); got != want {
		t.Errorf("last offset: got %d, want %d", got, want)
	}
}

// TestConvert_CSVRows checks each CSV row against its record: NULLs as
// unquoted empty fields (COPY's CSV NULL), exact cost text, JSON attributes.
func TestConvert_CSVRows(t *testing.T) {
	recs, jsonl := parseFixture(t)
	var csvOut, lpOut bytes.Buffer
	if _, err := Convert(bytes.NewReader(jsonl), &csvOut, &lpOut, 5000); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(csvOut.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(rows), len(recs); got != want {
		t.Fatalf("rows: got %d, want %d", got, want)
	}
	if got, want := len(rows[0]), len(strings.Split(RawColumns, ",")); got != want {
		t.Fatalf("columns: got %d, want %d (RawColumns)", got, want)
	}
	var nullUser, nullDuration, failed int
	for i, row := range rows {
		r := &recs[i]
		occurred, err := time.Parse(time.RFC3339Nano, row[1])
		if err != nil || !occurred.Equal(r.OccurredAt) {
			t.Errorf("row %d occurred_at: got %q, want %s", i, row[1], r.OccurredAt)
		}
		want := []string{r.EventID, row[1], r.Source, r.UserID, r.Feature, r.Provider, r.Model,
			strconv.FormatInt(r.InputTokens, 10), strconv.FormatInt(r.CachedInputTokens, 10),
			strconv.FormatInt(r.OutputTokens, 10), strconv.FormatInt(r.TotalTokens, 10),
			r.Cost.String(), r.CostSource.String()}
		for c, w := range want {
			if row[c] != w {
				t.Errorf("row %d column %d: got %q, want %q", i, c, row[c], w)
			}
		}
		if r.HasDuration {
			if d, err := strconv.ParseFloat(row[13], 64); err != nil || d != r.DurationMS {
				t.Errorf("row %d duration_ms: got %q, want %v", i, row[13], r.DurationMS)
			}
		} else if row[13] != "" {
			t.Errorf("row %d duration_ms: got %q, want NULL", i, row[13])
		}
		if got, want := row[14], strconv.FormatBool(r.Success); got != want {
			t.Errorf("row %d success: got %q, want %q", i, got, want)
		}
		if got, want := row[16], string(r.Attributes); got != want {
			t.Errorf("row %d attributes: got %s, want %s", i, got, want)
		}
		if r.UserID == "" {
			nullUser++
		}
		if !r.HasDuration {
			nullDuration++
		}
		if !r.Success {
			failed++
		}
	}
	// The fixture must exercise the NULL and failure paths, or the checks above prove little.
	if nullUser == 0 || failed == 0 {
		t.Errorf("fixture has %d records without user and %d failed ones; want some of each", nullUser, failed)
	}
	t.Logf("%d rows, %d without user, %d without duration, %d failed", len(rows), nullUser, nullDuration, failed)
}

func TestConvert_BadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "nope\n", "record 1"},
		{"bad time", `{"event_id":"a","occurred_at":"yesterday","model":"m","cost_usd":0}` + "\n", "occurred_at"},
		{"bad cost", `{"event_id":"a","occurred_at":"2026-01-01T00:00:00Z","model":"m","cost_usd":-1}` + "\n", "cost_usd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Convert(strings.NewReader(tc.in), io.Discard, io.Discard, 10)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
