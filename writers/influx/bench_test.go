package influx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

func BenchmarkEncode(b *testing.B) {
	e := newEncoder(DefaultMeasurement, false)
	r := sampleRecord()
	r.OccurredAt = r.OccurredAt.Truncate(time.Second) // exercise the offset
	r.Labels = []parse.Label{{Key: "service", Value: "quiz-api"}, {Key: "team", Value: "ml platform"}}
	buf, _ := e.appendRecord(nil, &r)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = e.appendRecord(buf[:0], &r)
	}
}

// backfillRecords is a history of n calls, about six per second, over a
// few dozen series: the shape of a real backfill.
func backfillRecords(n int) []parse.Record {
	models := []string{"gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet", "gemini-1.5-flash"}
	features := []string{"quiz", "chat", "summary", "grading", "search"}
	start := time.Now().Truncate(time.Second).Add(-30 * 24 * time.Hour)
	recs := make([]parse.Record, n)
	for i := range recs {
		r := sampleRecord()
		r.EventID = fmt.Sprintf("bf-%d", i)
		r.OccurredAt = start.Add(time.Duration(i/6) * time.Second)
		r.Model = models[i%len(models)]
		r.Feature = features[(i/4)%len(features)]
		r.Success = i%50 != 0
		r.InputTokens = int64(100 + i%4000)
		r.OutputTokens = int64(i % 700)
		r.TotalTokens = r.InputTokens + r.OutputTokens
		r.Cost = parse.Money(int64(i%997) * 1_000_000)
		r.DurationMS = float64(200 + i%3000)
		recs[i] = r
	}
	return recs
}

// benchBatch is the batch size of the write benchmarks: InfluxDB's
// recommended 5000 lines.
const benchBatch = 5000

// BenchmarkBackfill writes the same 1M-record history, in batches of
// benchBatch, once through the Writer and once as a raw POST of the same
// line protocol (encoded beforehand, outside the timer), each into a fresh
// database. Compare their ns/op: the writer's target is within 1.25x of raw.
//
// Run with: go test -run XXX -bench Backfill -benchtime 1x ./writers/influx/
func BenchmarkBackfill(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	recs := backfillRecords(n)

	b.Run("raw", func(b *testing.B) {
		// Encode every batch up front: raw is the cost of the load alone.
		e := newEncoder(DefaultMeasurement, false)
		var bodies [][]byte
		for lo := 0; lo < len(recs); lo += benchBatch {
			var buf []byte
			for i := lo; i < min(lo+benchBatch, len(recs)); i++ {
				buf, _ = e.appendRecord(buf, &recs[i])
			}
			bodies = append(bodies, buf)
		}
		client := &http.Client{}
		for b.Loop() {
			b.StopTimer()
			tgt := influxServer(b)
			u := strings.TrimSuffix(tgt.URL, "/") + "/api/v2/write?" +
				url.Values{"bucket": {tgt.Bucket}, "precision": {"ns"}}.Encode()
			b.StartTimer()
			for _, body := range bodies {
				resp, err := client.Post(u, "text/plain; charset=utf-8", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					b.Fatalf("raw post: %s", resp.Status)
				}
			}
		}
		b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "points/s")
	})

	for _, gz := range []bool{false, true} {
		name := "writer"
		if gz {
			name = "writer-gzip"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				tgt := influxServer(b)
				w, err := New(Config{URL: tgt.URL, Bucket: tgt.Bucket, Gzip: gz, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for lo := 0; lo < len(recs); lo += benchBatch {
					res, err := w.Write(context.Background(), recs[lo:min(lo+benchBatch, len(recs))])
					if err != nil || res.Refused != 0 {
						b.Fatalf("got %+v, %v", res.Refused, err)
					}
				}
				w.Close()
			}
			b.ReportMetric(float64(len(recs))*float64(b.N)/b.Elapsed().Seconds(), "points/s")
		})
	}
}
