package bench

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tokentail/tokentail/parse"
	"github.com/tokentail/tokentail/writers/influx"
)

// The raw loads write the same rows and points tokentail writes, made from
// `tokentail parse` output of the same files, so that the only difference
// between the two sides is tokentail's own work (reading, parsing, batching,
// exactly-once bookkeeping).

// RawColumns are the ai_usage_events columns the CSV holds, in order
// (ingested_at is left to its default, as tokentail leaves it).
const RawColumns = "event_id, occurred_at, source, user_id, feature, provider, model, " +
	"input_tokens, cached_input_tokens, output_tokens, total_tokens, cost_usd, cost_source, " +
	"duration_ms, success, error_type, attributes"

// RawTableDDL creates the raw load's table: tokentail's columns with the same
// unique key (occurred_at, event_id), whose B-tree is also the time index,
// as in tokentail's schema; not partitioned (a plain table is the cheapest
// thing a raw load can write to).
const RawTableDDL = `CREATE TABLE raw_events (
    event_id text NOT NULL, occurred_at timestamptz NOT NULL, ingested_at timestamptz NOT NULL DEFAULT now(),
    source text NOT NULL, user_id text, feature text, provider text, model text NOT NULL,
    input_tokens bigint NOT NULL, cached_input_tokens bigint NOT NULL, output_tokens bigint NOT NULL,
    total_tokens bigint NOT NULL, cost_usd numeric NOT NULL, cost_source text NOT NULL,
    duration_ms double precision, success boolean NOT NULL, error_type text,
    attributes jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (occurred_at, event_id))`

// parsedRecord is one line of `tokentail parse` output.
type parsedRecord struct {
	EventID           string          `json:"event_id"`
	OccurredAt        string          `json:"occurred_at"`
	Source            string          `json:"source"`
	UserID            *string         `json:"user_id"`
	Feature           *string         `json:"feature"`
	Provider          *string         `json:"provider"`
	Model             string          `json:"model"`
	InputTokens       int64           `json:"input_tokens"`
	CachedInputTokens int64           `json:"cached_input_tokens"`
	OutputTokens      int64           `json:"output_tokens"`
	TotalTokens       int64           `json:"total_tokens"`
	CostUSD           json.Number     `json:"cost_usd"`
	CostSource        string          `json:"cost_source"`
	DurationMS        *json.Number    `json:"duration_ms"`
	Success           bool            `json:"success"`
	ErrorType         *string         `json:"error_type"`
	Attributes        json.RawMessage `json:"attributes"`
}

// Converted says what Convert wrote.
type Converted struct {
	Records int
	// Batches are the byte offsets in the line protocol where each batch of
	// batchSize points begins, with the end offset last: batch i is
	// lp[Batches[i]:Batches[i+1]].
	Batches  []int64
	CSVBytes int64
	LPBytes  int64
}

// Convert reads `tokentail parse` JSON lines from in and writes one CSV row
// (for COPY ... FORMAT csv, NULL as an unquoted empty field) and one
// line-protocol point per record, the point exactly as tokentail's InfluxDB
// writer encodes it (same tags, fields and timestamp).
func Convert(in io.Reader, csvOut, lpOut io.Writer, batchSize int) (Converted, error) {
	var c Converted
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	cw := csv.NewWriter(&countWriter{w: csvOut, n: &c.CSVBytes})
	lw := bufio.NewWriterSize(&countWriter{w: lpOut, n: &c.LPBytes}, 1<<20)
	var (
		row  = make([]string, 17)
		line []byte
		pr   parsedRecord
		off  int64
	)
	for n := 1; sc.Scan(); n++ {
		pr = parsedRecord{}
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		if err := d.Decode(&pr); err != nil {
			return c, fmt.Errorf("record %d: %w", n, err)
		}
		rec, err := pr.record()
		if err != nil {
			return c, fmt.Errorf("record %d (%s): %w", n, pr.EventID, err)
		}
		pr.csvRow(row)
		if err := cw.Write(row); err != nil {
			return c, err
		}
		if c.Records%batchSize == 0 {
			c.Batches = append(c.Batches, off)
		}
		if line, err = influx.AppendLine(line[:0], &rec); err != nil {
			return c, fmt.Errorf("record %d: %w", c.Records+1, err)
		}
		if _, err := lw.Write(line); err != nil {
			return c, err
		}
		off += int64(len(line))
		c.Records++
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("read parse output: %w", err)
	}
	c.Batches = append(c.Batches, off)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return c, err
	}
	return c, lw.Flush()
}

// record is the part of a parse.Record the point needs.
func (p *parsedRecord) record() (parse.Record, error) {
	t, err := time.Parse(time.RFC3339Nano, p.OccurredAt)
	if err != nil {
		return parse.Record{}, fmt.Errorf("occurred_at: %w", err)
	}
	cost, err := parse.ParseMoney(p.cost())
	if err != nil {
		return parse.Record{}, fmt.Errorf("cost_usd: %w", err)
	}
	r := parse.Record{
		EventID: p.EventID, OccurredAt: t, Source: p.Source,
		UserID: str(p.UserID), Feature: str(p.Feature), Provider: str(p.Provider), Model: p.Model,
		InputTokens: p.InputTokens, CachedInputTokens: p.CachedInputTokens,
		OutputTokens: p.OutputTokens, TotalTokens: p.TotalTokens,
		Cost: cost, Success: p.Success, ErrorType: str(p.ErrorType),
	}
	if p.DurationMS != nil {
		r.DurationMS, err = p.DurationMS.Float64()
		if err != nil {
			return parse.Record{}, fmt.Errorf("duration_ms: %w", err)
		}
		r.HasDuration = true
	}
	return r, nil
}

// cost is the cost's exact decimal text; an unpriced record prints null
// and is stored as 0 (cost_source says why).
func (p *parsedRecord) cost() string {
	if p.CostUSD == "" {
		return "0"
	}
	return p.CostUSD.String()
}

func (p *parsedRecord) csvRow(row []string) {
	dur := ""
	if p.DurationMS != nil {
		dur = p.DurationMS.String()
	}
	attrs := string(p.Attributes)
	if attrs == "" || attrs == "null" {
		attrs = "{}"
	}
	row[0], row[1], row[2] = p.EventID, p.OccurredAt, p.Source
	row[3], row[4], row[5], row[6] = str(p.UserID), str(p.Feature), str(p.Provider), p.Model
	row[7] = strconv.FormatInt(p.InputTokens, 10)
	row[8] = strconv.FormatInt(p.CachedInputTokens, 10)
	row[9] = strconv.FormatInt(p.OutputTokens, 10)
	row[10] = strconv.FormatInt(p.TotalTokens, 10)
	row[11], row[12], row[13] = p.cost(), p.CostSource, dur
	row[14], row[15], row[16] = strconv.FormatBool(p.Success), str(p.ErrorType), attrs
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
