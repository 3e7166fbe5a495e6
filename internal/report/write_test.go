package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func strp(s string) *string { return &s }

// TestWriteCSV_FormulaInjection: a group value from the logs that a
// spreadsheet would run as a formula (= + - @ tab CR first) is written after
// a single quote; other values, and the numbers the report computes (a
// negative cost included), are written as they are.
func TestWriteCSV_FormulaInjection(t *testing.T) {
	user, err := ParseDimension("user")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ key, want string }{
		{`=HYPERLINK("http://x","y")`, `'=HYPERLINK("http://x","y")`},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"plain", "plain"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
		{"", ""},
	}
	r := &Result{Query: Query{Since: fixtureStart, Until: fixtureStart.Add(24 * time.Hour), By: []Dimension{user}}, Currency: "USD"}
	for _, c := range cases {
		r.Rows = append(r.Rows, Row{Keys: []*string{strp(c.key)}, Cost: "-0.5", Requests: 1})
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(cases)+1 {
		t.Fatalf("got %d records, want %d: %q", len(recs), len(cases)+1, recs)
	}
	for i, c := range cases {
		rec := recs[i+1]
		if rec[0] != c.want {
			t.Errorf("key %q: cell %q, want %q", c.key, rec[0], c.want)
		}
		if rec[1] != "-0.5" {
			t.Errorf("key %q: cost cell %q, want -0.5 (numbers are not prefixed)", c.key, rec[1])
		}
	}
}

// TestValidRate: a rate is a plain decimal above zero, the form JSON and
// PostgreSQL take as it is; anything big.Rat would read besides is refused.
func TestValidRate(t *testing.T) {
	for _, s := range []string{"83.2", "0.92", "1", "0.5", "10", "0.000001", "1000000"} {
		if err := ValidRate(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, c := range []struct{ s, want string }{
		{".5", "plain decimal"}, {"+83.2", "plain decimal"}, {"83.", "plain decimal"}, {"083", "plain decimal"},
		{"8.32e1", "plain decimal"}, {"1/2", "plain decimal"}, {"", "plain decimal"}, {" 1", "plain decimal"},
		{"0x10", "plain decimal"}, {"1_000", "plain decimal"}, {"abc", "plain decimal"}, {"-.5", "plain decimal"},
		{"0", "above zero"}, {"0.000", "above zero"}, {"-2", "above zero"}, {"-0.5", "above zero"},
	} {
		err := ValidRate(c.s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error saying %q", c.s, err, c.want)
		}
	}
}

// TestKeyText_ControlCharacters: C0, DEL and C1 control characters in a
// group value are replaced in the table; other characters are kept.
func TestKeyText_ControlCharacters(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a\x1b[31mb", "a?[31mb"},
		{"tab\there", "tab?here"},
		{"del\x7f", "del?"},
		{"nel\u0085", "nel?"},
		{"csi\u009b31m", "csi?31m"},
		{"pad\u0080\u009f", "pad??"},
		{"nbsp\u00a0é€", "nbsp\u00a0é€"},
	}
	for _, c := range cases {
		if got := keyText(strp(c.in)); got != c.want {
			t.Errorf("keyText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
