package loggen

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/tokentail/tokentail/parse"
)

// Manifest is the truth about what a generator wrote: what a correct parser
// must find in the output. Counts of "lines" are application lines unless
// named physical.
type Manifest struct {
	Seed         uint64 `json:"seed"`
	Envelope     string `json:"envelope"`
	Layout       string `json:"layout"`
	Marker       string `json:"marker,omitempty"`
	MaxLineBytes int    `json:"max_line_bytes"`

	// PhysicalLines is what `wc -l` counts: CRI and Docker partial chunks
	// and every line of a stack trace count once each.
	PhysicalLines int64 `json:"physical_lines"`
	// PartialLines are the physical lines that end a chunk but not a line
	// (CRI "P", Docker entries without "\n").
	PartialLines int64 `json:"partial_lines"`
	Bytes        int64 `json:"bytes"` // before any gzip
	// Lines are the application's lines, envelopes removed and chunks joined.
	Lines      int64 `json:"lines"`
	NoiseLines int64 `json:"noise_lines"`

	// Records are the lines that must become a record.
	Records            int64 `json:"records"`
	ErrorRecords       int64 `json:"error_records"` // records with success false
	RecordsWithoutCost int64 `json:"records_without_cost"`
	RecordsWithoutID   int64 `json:"records_without_id"`
	RecordsWithoutTime int64 `json:"records_without_time"`
	// DistinctRequestIDs counts the different ids records carry; ids are
	// unique by construction, so it equals Records - RecordsWithoutID.
	DistinctRequestIDs int64 `json:"distinct_request_ids"`

	// Malformed lines carry the marker (or "type":"ai_cost") but must be
	// rejected; Rejects counts them by reason.
	Malformed int64                  `json:"malformed"`
	Rejects   map[parse.Reason]int64 `json:"rejects"`

	// Cost sums the cost of the records that carry one, exactly.
	Cost    parse.Money `json:"cost_picousd"`
	CostUSD string      `json:"cost_usd"`

	// Token sums over all records, normalized as the contract says
	// (input_tokens includes cached and Anthropic cache-creation tokens).
	InputTokens       int64 `json:"input_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	TotalTokens       int64 `json:"total_tokens"`

	// Models holds per-model figures, keyed by the model a parser records:
	// the logged name with a provider prefix ("openai/") removed. Dated
	// names ("gpt-4o-mini-2024-07-18") are models of their own.
	Models map[string]ModelStats `json:"models"`

	// Files lists the files written (mixed batch and live mode).
	Files []FileStat `json:"files,omitempty"`
	// Rotations counts log rotations (live mode).
	Rotations int64 `json:"rotations,omitempty"`
}

// ModelStats are the figures of one model. The token sums of records
// without a cost let a test compute what pricing must add.
type ModelStats struct {
	Records            int64       `json:"records"`
	RecordsWithoutCost int64       `json:"records_without_cost"`
	Cost               parse.Money `json:"cost_picousd"`
	InputTokens        int64       `json:"input_tokens"`
	CachedInputTokens  int64       `json:"cached_input_tokens"`
	OutputTokens       int64       `json:"output_tokens"`

	// Token sums over the records without a cost only.
	NoCostInputTokens       int64 `json:"no_cost_input_tokens"`
	NoCostCachedInputTokens int64 `json:"no_cost_cached_input_tokens"`
	NoCostOutputTokens      int64 `json:"no_cost_output_tokens"`
}

// FileStat is what went into one file (with its rotated copies, in live mode).
type FileStat struct {
	Path          string `json:"path"`
	Envelope      string `json:"envelope"`
	Layout        string `json:"layout"`
	PhysicalLines int64  `json:"physical_lines"`
	Bytes         int64  `json:"bytes"`
	Lines         int64  `json:"lines"`
	Records       int64  `json:"records"`
	Malformed     int64  `json:"malformed"`
	Rotations     int64  `json:"rotations,omitempty"`
}

// Merge adds the counts of o to m. Descriptive fields (seed, envelope)
// become "mixed" when they differ.
func (m *Manifest) Merge(o Manifest) {
	if m.Envelope != o.Envelope {
		m.Envelope = "mixed"
	}
	if m.Layout != o.Layout {
		m.Layout = "mixed"
	}
	m.PhysicalLines += o.PhysicalLines
	m.PartialLines += o.PartialLines
	m.Bytes += o.Bytes
	m.Lines += o.Lines
	m.NoiseLines += o.NoiseLines
	m.Records += o.Records
	m.ErrorRecords += o.ErrorRecords
	m.RecordsWithoutCost += o.RecordsWithoutCost
	m.RecordsWithoutID += o.RecordsWithoutID
	m.RecordsWithoutTime += o.RecordsWithoutTime
	m.DistinctRequestIDs += o.DistinctRequestIDs
	m.Malformed += o.Malformed
	for r, n := range o.Rejects {
		if m.Rejects == nil {
			m.Rejects = map[parse.Reason]int64{}
		}
		m.Rejects[r] += n
	}
	m.Cost += o.Cost
	m.CostUSD = m.Cost.String()
	m.InputTokens += o.InputTokens
	m.CachedInputTokens += o.CachedInputTokens
	m.OutputTokens += o.OutputTokens
	m.TotalTokens += o.TotalTokens
	for name, s := range o.Models {
		if m.Models == nil {
			m.Models = map[string]ModelStats{}
		}
		t := m.Models[name]
		t.add(s)
		m.Models[name] = t
	}
	m.Files = append(m.Files, o.Files...)
	m.Rotations += o.Rotations
}

func (s *ModelStats) add(o ModelStats) {
	s.Records += o.Records
	s.RecordsWithoutCost += o.RecordsWithoutCost
	s.Cost += o.Cost
	s.InputTokens += o.InputTokens
	s.CachedInputTokens += o.CachedInputTokens
	s.OutputTokens += o.OutputTokens
	s.NoCostInputTokens += o.NoCostInputTokens
	s.NoCostCachedInputTokens += o.NoCostCachedInputTokens
	s.NoCostOutputTokens += o.NoCostOutputTokens
}

// ModelNames returns the keys of m.Models, sorted.
func (m *Manifest) ModelNames() []string {
	names := make([]string, 0, len(m.Models))
	for n := range m.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WriteFile writes m as indented JSON to path, through a temporary file so
// a reader never sees half a manifest.
func (m *Manifest) WriteFile(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	b = append(b, '\n')
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// ReadManifest reads a manifest written by WriteFile.
func ReadManifest(path string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(path)
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("read manifest %s: %w", path, err)
	}
	return m, nil
}
