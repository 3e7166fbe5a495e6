package loggen

import (
	"bytes"
	"io"
	"math/big"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tokentail/tokentail/parse"
)

var combos = []struct {
	env Envelope
	lay Layout
}{
	{Plain, MarkerLayout}, {Docker, MarkerLayout}, {CRI, MarkerLayout},
	{Plain, JSONLayout}, {Docker, JSONLayout}, {CRI, JSONLayout},
}

func generate(t *testing.T, o Options, n int) ([]byte, Manifest) {
	t.Helper()
	var buf bytes.Buffer
	m, err := New(o).WriteN(&buf, n)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

func TestGenerator_Deterministic(t *testing.T) {
	for _, c := range combos {
		t.Run(c.env.String()+"/"+c.lay.String(), func(t *testing.T) {
			o := Options{Seed: 42, Envelope: c.env, Layout: c.lay, Noise: 0.4, Malformed: 0.1, NoCost: 0.2, NoID: 0.1, NoTime: 0.1}
			a, ma := generate(t, o, 2000)
			b, mb := generate(t, o, 2000)
			if !bytes.Equal(a, b) {
				t.Fatalf("same seed and options: outputs differ (%d and %d bytes)", len(a), len(b))
			}
			if ma.Cost != mb.Cost || ma.Records != mb.Records {
				t.Errorf("same seed: manifests differ: %+v vs %+v", ma, mb)
			}
			o.Seed = 43
			other, _ := generate(t, o, 2000)
			if bytes.Equal(a, other) {
				t.Errorf("seeds 42 and 43 gave the same output")
			}
		})
	}
}

// TestManifest_MatchesRecount reads the output back with the naive reader of
// contract_test.go and checks every figure of the manifest against it.
func TestManifest_MatchesRecount(t *testing.T) {
	for _, c := range combos {
		t.Run(c.env.String()+"/"+c.lay.String(), func(t *testing.T) {
			o := Options{
				Seed: 7, Envelope: c.env, Layout: c.lay,
				Noise: 0.3, Malformed: 0.2, NoCost: 0.2, NoID: 0.1, NoTime: 0.05, ErrorRate: 0.05,
				MaxLineBytes: 4096, SplitBytes: 700, Users: 50,
			}
			out, m := generate(t, o, 4000)
			lines, broken := unwrap(t, out, c.env)

			marker := DefaultMarker
			if c.lay == JSONLayout {
				marker = ""
			}
			var records, malformed, noise, noCost, noID, errs int64
			var in, cached, output, total int64
			cost := new(big.Rat)
			ids := map[string]bool{}
			perModel := map[string]int64{}
			for _, l := range lines {
				rec, isRecord, ok := naiveParse(l, marker, o.MaxLineBytes)
				switch {
				case !isRecord:
					noise++
					continue
				case !ok:
					malformed++
					continue
				}
				records++
				perModel[rec.model]++
				in += rec.input
				cached += rec.cached
				output += rec.output
				total += rec.total
				if rec.cost == nil {
					noCost++
				} else {
					cost.Add(cost, rec.cost)
				}
				if rec.id == "" {
					noID++
				} else {
					ids[rec.id] = true
				}
				if !rec.success {
					errs++
				}
			}
			malformed += int64(broken)

			check := func(name string, got, want int64) {
				t.Helper()
				if got != want {
					t.Errorf("%s: recount %d, manifest %d", name, got, want)
				}
			}
			check("records", records, m.Records)
			check("malformed", malformed, m.Malformed)
			check("noise lines", noise, m.NoiseLines)
			check("lines", int64(len(lines))+int64(broken), m.Lines)
			check("physical lines", int64(bytes.Count(out, []byte{'\n'})), m.PhysicalLines)
			check("bytes", int64(len(out)), m.Bytes)
			check("records without cost", noCost, m.RecordsWithoutCost)
			check("records without id", noID, m.RecordsWithoutID)
			check("distinct request ids", int64(len(ids)), m.DistinctRequestIDs)
			check("error records", errs, m.ErrorRecords)
			check("input tokens", in, m.InputTokens)
			check("cached input tokens", cached, m.CachedInputTokens)
			check("output tokens", output, m.OutputTokens)
			check("total tokens", total, m.TotalTokens)
			want := new(big.Rat).SetFrac(big.NewInt(int64(m.Cost)), big.NewInt(1e12))
			if cost.Cmp(want) != 0 {
				t.Errorf("cost: recount %s, manifest %s", cost.FloatString(12), want.FloatString(12))
			}
			if got, _ := parse.ParseMoney(m.CostUSD); got != m.Cost {
				t.Errorf("cost_usd %q does not spell cost_picousd %d", m.CostUSD, m.Cost)
			}
			for name, n := range perModel {
				check("records of "+name, n, m.Models[name].Records)
			}
			if len(perModel) != len(m.Models) {
				t.Errorf("models: recount %d, manifest %d", len(perModel), len(m.Models))
			}
			var sum int64
			for _, n := range m.Rejects {
				sum += n
			}
			check("sum of rejects", sum, m.Malformed)
			if records == 0 || malformed == 0 || noise == 0 || noCost == 0 || noID == 0 {
				t.Errorf("a class is empty: records %d malformed %d noise %d no cost %d no id %d", records, malformed, noise, noCost, noID)
			}
		})
	}
}

// TestGenerator_ExercisesEveryAlias checks that valid records use every log
// field name of the contract's record table.
func TestGenerator_ExercisesEveryAlias(t *testing.T) {
	seen := map[string]bool{}
	anthropic := false
	for _, lay := range []Layout{MarkerLayout, JSONLayout} {
		o := Options{Seed: 3, Layout: lay, ErrorRate: 0.2}
		out, _ := generate(t, o, 5000)
		marker := DefaultMarker
		if lay == JSONLayout {
			marker = ""
		}
		for _, l := range bytes.Split(bytes.TrimSuffix(out, []byte{'\n'}), []byte{'\n'}) {
			rec, _, ok := naiveParse(l, marker, DefaultMaxLineBytes)
			if !ok {
				continue
			}
			for _, a := range rec.aliasesUsed {
				seen[a] = true
			}
			anthropic = anthropic || rec.anthropicNormalization
		}
	}
	// The first alias of a field hides the ones after it in one record, so
	// each alias must win in some record to count as exercised.
	for field, aliases := range contractAliases {
		for _, a := range aliases {
			if !seen[a] {
				t.Errorf("%s: alias %q never used", field, a)
			}
		}
	}
	if !anthropic {
		t.Errorf("no record with Anthropic usage (input excluding the cache)")
	}
}

func TestEnvelope_FramingJoinsBack(t *testing.T) {
	// Without malformed lines the generator draws the same numbers whatever
	// the envelope, so the plain output is what the envelopes must carry.
	for _, lay := range []Layout{MarkerLayout, JSONLayout} {
		o := Options{Seed: 11, Layout: lay, Noise: 0.5, SplitBytes: 100}
		plain, _ := generate(t, o, 1500)
		for _, env := range []Envelope{Docker, CRI} {
			t.Run(env.String()+"/"+lay.String(), func(t *testing.T) {
				o := o
				o.Envelope = env
				out, m := generate(t, o, 1500)
				lines, broken := unwrap(t, out, env)
				if broken != 0 {
					t.Fatalf("%d broken envelopes without malformed lines", broken)
				}
				got := append(bytes.Join(lines, []byte{'\n'}), '\n')
				if !bytes.Equal(got, plain) {
					t.Fatalf("joined lines differ from the plain output")
				}
				if m.PartialLines == 0 {
					t.Errorf("no partial lines with SplitBytes %d", o.SplitBytes)
				}
				if got, want := m.PhysicalLines-m.PartialLines, m.Lines; got != want {
					t.Errorf("physical lines %d - partial %d = %d, want the %d application lines", m.PhysicalLines, m.PartialLines, got, want)
				}
			})
		}
	}
}

func TestEnvelope_DockerSplitsAtRuneBoundaries(t *testing.T) {
	// dockerd would turn half a rune into U+FFFD: chunks must end on a rune.
	o := Options{Seed: 5, Envelope: Docker, Noise: 0.2, SplitBytes: 64}
	out, m := generate(t, o, 500)
	if m.PartialLines == 0 || !bytes.ContainsFunc(out, func(r rune) bool { return r > 0x7f }) {
		t.Fatalf("sample without partial lines or without non-ASCII text")
	}
	for _, l := range bytes.Split(out, []byte{'\n'}) {
		if !utf8.Valid(l) {
			t.Fatalf("docker line with a cut rune: %q", l)
		}
	}
}

func TestGenerator_EveryMalformedReason(t *testing.T) {
	for _, c := range combos {
		t.Run(c.env.String()+"/"+c.lay.String(), func(t *testing.T) {
			o := Options{Seed: 9, Envelope: c.env, Layout: c.lay, Malformed: 1, MaxLineBytes: 2048}
			out, m := generate(t, o, 3000)
			want := MalformedReasons(o)
			for _, r := range want {
				if m.Rejects[r] == 0 {
					t.Errorf("reason %s: none in 3000 malformed lines", r)
				}
			}
			if len(m.Rejects) != len(want) {
				t.Errorf("rejects %v, want only %v", m.Rejects, want)
			}
			if m.Records != 0 || m.Malformed != 3000 {
				t.Errorf("records %d malformed %d, want 0 and 3000", m.Records, m.Malformed)
			}
			// The naive reader must reject every one of them.
			lines, broken := unwrap(t, out, c.env)
			marker := DefaultMarker
			if c.lay == JSONLayout {
				marker = ""
			}
			bad := broken
			for _, l := range lines {
				_, isRecord, ok := naiveParse(l, marker, o.MaxLineBytes)
				if isRecord && !ok {
					bad++
				} else if ok {
					t.Errorf("a malformed line reads as a valid record: %.300s", l)
				}
			}
			if bad != 3000 {
				t.Errorf("naive reader rejects %d lines, want 3000", bad)
			}
		})
	}
}

func TestGenerator_MalformedReasonsRestricted(t *testing.T) {
	o := Options{Seed: 1, Envelope: CRI, Malformed: 1, MalformedReasons: []parse.Reason{parse.ReasonBadEnvelope}}
	_, m := generate(t, o, 200)
	if got := m.Rejects[parse.ReasonBadEnvelope]; got != m.Malformed || got < 190 {
		t.Errorf("bad_envelope %d of %d malformed, want all (but perhaps the first line)", got, m.Malformed)
	}
}

func TestGenerator_NoiseNeverCarriesTheMarker(t *testing.T) {
	o := Options{Seed: 2, Noise: 0.99, Marker: "usage"}
	g := New(o)
	var buf []byte
	for i := 0; i < 3000; i++ {
		var k Kind
		buf, k = g.Line(buf[:0])
		if k == KindNoise && bytes.Contains(buf, []byte("usage")) {
			t.Fatalf("noise line holds the marker: %q", buf)
		}
	}
}

func TestOptions_Validate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string // substring of the error; "" for none
	}{
		{"zero", Options{}, ""},
		{"noise one", Options{Noise: 1}, "noise"},
		{"negative malformed", Options{Malformed: -0.1}, "malformed"},
		{"tiny max line", Options{MaxLineBytes: 10}, "max line bytes"},
		{"envelope reason on plain", Options{MalformedReasons: []parse.Reason{parse.ReasonBadEnvelope}}, "bad_envelope"},
		{"utf8 reason on docker", Options{Envelope: Docker, MalformedReasons: []parse.Reason{parse.ReasonInvalidUTF8}}, "invalid_utf8"},
		{"server reason", Options{MalformedReasons: []parse.Reason{parse.ReasonServerRefused}}, "server_refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestBenchLine_Shape(t *testing.T) {
	ids := map[string]bool{}
	for i := 0; i < 1000; i++ {
		l := BenchLine(i)
		if len(l) < 270 || len(l) > 330 {
			t.Errorf("line %d is %d bytes, want about 300", i, len(l))
		}
		rec, _, ok := naiveParse(bytes.TrimSuffix(l, []byte{'\n'}), DefaultMarker, DefaultMaxLineBytes)
		if !ok || rec.cost == nil || rec.model != "gpt-4o-mini" {
			t.Fatalf("line %d is not a priced record: %s", i, l)
		}
		if ids[rec.id] {
			t.Fatalf("line %d repeats id %s", i, rec.id)
		}
		ids[rec.id] = true
	}
	if !bytes.Equal(BenchLine(3), BenchLine(3)) {
		t.Errorf("BenchLine(3) differs between calls")
	}
	dst := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { dst = AppendBenchLine(dst[:0], 77) }); n != 0 {
		t.Errorf("AppendBenchLine allocates %v times, want 0", n)
	}
}

func TestGenerator_BenchMode(t *testing.T) {
	o := Options{Bench: true, Noise: 0.5, Malformed: 0.5}
	out, m := generate(t, o, 100)
	if m.Records != 100 || m.NoiseLines != 0 || m.Malformed != 0 {
		t.Errorf("bench mode: records %d noise %d malformed %d, want 100, 0, 0", m.Records, m.NoiseLines, m.Malformed)
	}
	if got := bytes.Count(out, []byte("AI_COST: ")); got != 100 {
		t.Errorf("%d marker lines, want 100", got)
	}
}

func BenchmarkGenerator_Line(b *testing.B) {
	g := New(Options{Seed: 1, Noise: 0.3, Malformed: 0.01, NoCost: 0.2, NoID: 0.1})
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = g.Line(buf[:0])
		b.SetBytes(int64(len(buf)))
	}
}

func BenchmarkGenerator_WriteN(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		g := New(Options{Seed: 1, Noise: 0.3, Malformed: 0.01, NoCost: 0.2})
		if _, err := g.WriteN(io.Discard, 100_000); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendBenchLine(b *testing.B) {
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	var i int64
	for b.Loop() {
		dst = AppendBenchLine(dst[:0], i)
		i++
	}
}
