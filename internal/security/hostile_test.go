package security

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tokentail/tokentail/internal/testenv"
)

// hostileCase is one line of testdata/hostile/cases.txt, or one made by the test.
type hostileCase struct {
	name, expect string
	line         []byte
	offset       int64 // where the line starts in the log written
	eventID      string
}

var (
	byteToken   = regexp.MustCompile(`<0x([0-9a-fA-F]{2})>`)
	requestIDRE = regexp.MustCompile(`"request_id":"([^"\\]*)"`)
	nulEscapeRE = regexp.MustCompile(`\\u0000`)
	surrogateRE = regexp.MustCompile(`(?i)\\u(d[89ab][0-9a-f]{2})(\\u(d[c-f][0-9a-f]{2}))?|\\u(d[c-f][0-9a-f]{2})`)
)

// eventIDOf finds the line's request_id without decoding its JSON, which may be invalid on
// purpose (a raw NUL that tokentail accepts).
func eventIDOf(line []byte) string {
	if m := requestIDRE.FindSubmatch(line); m != nil {
		return string(m[1])
	}
	return ""
}

// sanitized rewrites a record's JSON text the way tokentail documents it stores what
// PostgreSQL cannot hold: a NUL (raw or \u0000) becomes U+FFFD, and a lone surrogate escape
// is kept as its six characters. A surrogate pair is a character and stays one.
func sanitized(b []byte) []byte {
	b = bytes.ReplaceAll(b, []byte{0}, []byte("\ufffd"))
	b = nulEscapeRE.ReplaceAll(b, []byte(`\ufffd`))
	return surrogateRE.ReplaceAllFunc(b, func(m []byte) []byte {
		if len(m) == 12 { // a high and a low surrogate: a valid pair
			return m
		}
		return append([]byte(`\\`), m[1:]...)
	})
}

// influxTag is how writers/influx (appendEscaped) documents a tag value is stored: line
// protocol cannot hold CR or LF, and a backslash before a special character or at the end
// reads differently on different servers, so it becomes '/'.
func influxTag(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\n', '\r':
			b.WriteByte(' ')
		case '\\':
			if i+1 < len(s) && !strings.ContainsRune("\\, =\n\r", rune(s[i+1])) {
				b.WriteByte(c)
			} else {
				b.WriteByte('/')
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// loadCases reads the corpus; see testdata/hostile/README.md for its format.
func loadCases(t *testing.T) []*hostileCase {
	t.Helper()
	data, err := os.ReadFile("../../testdata/hostile/cases.txt")
	if err != nil {
		t.Fatal(err)
	}
	var cases []*hostileCase
	for i, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.SplitN(l, "\t", 3)
		if len(f) != 3 {
			t.Fatalf("cases.txt:%d: want name<TAB>expect<TAB>line", i+1)
		}
		line := byteToken.ReplaceAllFunc([]byte(f[2]), func(m []byte) []byte {
			b, _ := strconv.ParseUint(string(m[3:5]), 16, 8)
			return []byte{byte(b)}
		})
		cases = append(cases, &hostileCase{name: f[0], expect: f[1], line: line})
	}
	if len(cases) < 40 {
		t.Fatalf("cases.txt: got %d cases, want the whole corpus", len(cases))
	}
	return cases
}

// deep returns a record whose attribute nests n levels deep.
func deep(id string, n int, open, close string, closed bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `2025-06-01 13:00:00 INFO AI_COST: {"request_id":%q,"timestamp":"2025-06-01T13:00:00Z","model":"m","input_tokens":1,"nest":`, id)
	b.WriteString(strings.Repeat(open, n))
	b.WriteString("1")
	if closed {
		b.WriteString(strings.Repeat(close, n))
		b.WriteString("}")
	}
	return b.Bytes()
}

// hugeLineBytes is the size of the line that must be rejected as too long without being
// held in memory (max_line_bytes is 1 MiB).
const hugeLineBytes = 100 << 20

// writeHostileLog writes normal records with every case between them and returns the path
// and the number of normal records. The 100 MB case is streamed, never held whole.
func writeHostileLog(t *testing.T, path string, cases []*hostileCase, huge *hostileCase) int {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	n := 0
	put := func(b []byte) {
		w.Write(b)
		w.WriteByte('\n')
		off += int64(len(b)) + 1
	}
	normal := func() {
		put([]byte(normalLine("n", n)))
		n++
	}
	normal()
	for _, c := range cases {
		c.offset = off
		put(c.line)
		normal()
	}
	// The huge line: a record whose padding passes max_line_bytes a hundred times over.
	huge.offset = off
	prefix := `2025-06-01 13:00:00 INFO AI_COST: {"request_id":"h-huge","model":"m","input_tokens":1,"pad":"`
	w.WriteString(prefix)
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for written := len(prefix); written < hugeLineBytes; written += len(chunk) {
		w.Write(chunk)
		off += int64(len(chunk))
	}
	w.WriteString(`"}` + "\n")
	off += int64(len(prefix)) + 3
	for range 5 {
		normal()
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return n
}

// knownFields are the record fields the corpus uses; every other key is an attribute.
var knownFields = map[string]bool{"request_id": true, "timestamp": true, "model": true, "provider": true,
	"feature": true, "user_id": true, "input_tokens": true, "output_tokens": true, "cost_usd": true,
	"duration_ms": true, "error_type": true}

// recordJSON decodes the JSON after the line's marker, for comparing what was stored.
func recordJSON(line []byte) (map[string]any, bool) {
	i := bytes.Index(line, []byte("AI_COST: "))
	if i < 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(sanitized(line[i+len("AI_COST: "):])))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, false
	}
	return m, true
}

type storedRow struct {
	model                              string
	feature, userID, provider, errType *string
	attrs                              map[string]any
}

// TestHostile_Backfill backfills the hostile corpus between ordinary records into the real
// PostgreSQL and InfluxDB. Every hostile line must be stored verbatim or rejected with a
// reason; every ordinary record must be stored, byte for byte as a clean run stores it; the
// tables must still exist; and InfluxDB must hold one point per row.
func TestHostile_Backfill(t *testing.T) {
	dir := t.TempDir()
	cases := loadCases(t)
	cases = append(cases,
		&hostileCase{name: "deep_object_10000", expect: "either", line: deep("h-deep-obj", 10000, `{"a":`, "}", true)},
		&hostileCase{name: "deep_array_10000", expect: "either", line: deep("h-deep-arr", 10000, "[", "]", true)},
		&hostileCase{name: "deep_unclosed_10000", expect: "reject", line: deep("h-deep-open", 10000, `{"a":[`, "]}", false)},
		&hostileCase{name: "deep_content_10000", expect: "either", line: deep("h-deep-content", 10000, `{"messages":`, "}", true)},
	)
	huge := &hostileCase{name: "line_100MB", expect: "reject:line_too_long"}
	for _, c := range cases {
		c.eventID = eventIDOf(c.line)
	}
	hostileLog := filepath.Join(dir, "hostile.log")
	nNormal := writeHostileLog(t, hostileLog, cases, huge)
	cases = append(cases, huge)

	// The baseline: the same ordinary records, alone, through the same path.
	normals := make([]string, nNormal)
	var wantInput int64
	for i := range normals {
		normals[i] = normalLine("n", i)
		wantInput += int64(100 + i)
	}
	baseDir := t.TempDir()
	baseLog := writeLines(t, baseDir, "hostile.log", normals)
	baseDSN := testenv.PostgresDSN(t)
	backfill(t, loadConfig(t, baseDir, fmt.Sprintf("sources: [{name: app, paths: [%q]}]\npostgres: {dsn: %q}\n", baseLog, baseDSN)), baseLog)

	dsn := testenv.PostgresDSN(t)
	ix := testenv.Influx(t)
	cfg := loadConfig(t, dir, fmt.Sprintf("sources: [{name: app, paths: [%q]}]\npostgres: {dsn: %q}\ninfluxdb: {url: %q, bucket: %q}\n",
		hostileLog, dsn, ix.URL, ix.Bucket))
	res := backfill(t, cfg, hostileLog)
	t.Logf("backfill: %d lines, %d records, rejects %v", res.Sum.Lines, res.Sum.Records, res.Sum.Rejects)

	conn := pgConn(t, dsn)
	ctx := context.Background()
	for _, table := range []string{"ai_usage_events", "ai_usage_rejects"} {
		var got *string
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1)::text", table).Scan(&got); err != nil || got == nil {
			t.Fatalf("table %s: got %v (%v), want it to exist", table, got, err)
		}
	}

	t.Run("ordinary records all stored and unchanged", func(t *testing.T) {
		if got, want := queryInt(t, conn, "SELECT count(*) FROM ai_usage_events WHERE event_id LIKE 'n-%'"), int64(nNormal); got != want {
			t.Errorf("ordinary rows: got %d, want %d", got, want)
		}
		if got := queryInt(t, conn, "SELECT coalesce(sum(input_tokens), 0) FROM ai_usage_events WHERE event_id LIKE 'n-%'"); got != wantInput {
			t.Errorf("ordinary rows' input_tokens: got %d, want %d", got, wantInput)
		}
		const sum = `SELECT md5(string_agg(concat_ws('|', event_id, occurred_at, source, user_id, feature, provider, model,
			input_tokens, cached_input_tokens, output_tokens, total_tokens, cost_usd, cost_source, duration_ms, success,
			error_type, attributes::text), E'\n' ORDER BY event_id)) FROM ai_usage_events WHERE event_id LIKE 'n-%'`
		var got, want string
		if err := conn.QueryRow(ctx, sum).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if err := pgConn(t, baseDSN).QueryRow(ctx, sum).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("checksum of the ordinary rows: got %s, want %s (a clean run's)", got, want)
		}
	})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkHostile(t, conn, c) })
	}

	t.Run("InfluxDB holds one point per row, tags verbatim", func(t *testing.T) {
		rows, err := conn.Query(ctx, "SELECT model, coalesce(feature, ''), coalesce(provider, '') FROM ai_usage_events")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for rows.Next() {
			var m, f, p string
			if err := rows.Scan(&m, &f, &p); err != nil {
				t.Fatal(err)
			}
			want = append(want, fmt.Sprintf("%q %q %q", influxTag(m), influxTag(f), influxTag(p)))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range ix.Query(t, "SELECT input_tokens FROM ai_usage GROUP BY *") {
			for range s.Values {
				got = append(got, fmt.Sprintf("%q %q %q", s.Tags["model"], s.Tags["feature"], s.Tags["provider"]))
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		if len(got) != len(want) {
			t.Errorf("points: got %d, want %d (one per row)", len(got), len(want))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("point tags differ from rows:\n%s", diffLists(got, want))
		}
	})
}

// checkHostile checks one hostile line's fate: stored verbatim, or rejected with a reason at
// its offset; never both, never neither.
func checkHostile(t *testing.T, conn *pgx.Conn, c *hostileCase) {
	ctx := context.Background()
	var reason string
	err := conn.QueryRow(ctx, "SELECT reason FROM ai_usage_rejects WHERE byte_offset = $1", c.offset).Scan(&reason)
	rejected := err == nil
	if err != nil && err != pgx.ErrNoRows {
		t.Fatal(err)
	}
	var row *storedRow
	if c.eventID != "" && !rejected {
		r := &storedRow{}
		var attrs []byte
		err := conn.QueryRow(ctx, "SELECT model, feature, user_id, provider, error_type, attributes FROM ai_usage_events WHERE event_id = $1",
			c.eventID).Scan(&r.model, &r.feature, &r.userID, &r.provider, &r.errType, &attrs)
		switch {
		case err == nil:
			dec := json.NewDecoder(bytes.NewReader(attrs))
			dec.UseNumber()
			if err := dec.Decode(&r.attrs); err != nil {
				t.Fatal(err)
			}
			row = r
		case err != pgx.ErrNoRows:
			t.Fatal(err)
		}
	}
	switch {
	case rejected && row != nil:
		t.Fatalf("both stored and rejected (%s)", reason)
	case !rejected && row == nil:
		t.Fatalf("neither stored nor rejected at offset %d: the line was lost", c.offset)
	}
	switch want := c.expect; {
	case strings.HasPrefix(want, "stored") && row == nil:
		t.Errorf("got reject %s, want the record stored", reason)
	case strings.HasPrefix(want, "reject") && row != nil:
		t.Errorf("got the record stored, want %s", want)
	case strings.HasPrefix(want, "reject:") && rejected && reason != strings.TrimPrefix(want, "reject:"):
		t.Errorf("got reject reason %s, want %s", reason, strings.TrimPrefix(want, "reject:"))
	}
	if row != nil && c.expect != "stored-unchecked" {
		checkVerbatim(t, c, row)
	}
}

// checkVerbatim compares the stored string fields and attributes with the line's JSON.
func checkVerbatim(t *testing.T, c *hostileCase, r *storedRow) {
	m, ok := recordJSON(c.line)
	if !ok {
		t.Errorf("stored, but the line's JSON does not decode")
		return
	}
	str := func(s *string) any {
		if s == nil {
			return nil
		}
		return *s
	}
	for _, f := range []struct {
		key string
		got any
	}{{"model", r.model}, {"feature", str(r.feature)}, {"user_id", str(r.userID)}, {"provider", str(r.provider)}, {"error_type", str(r.errType)}} {
		if want, in := m[f.key]; in && !reflect.DeepEqual(f.got, want) {
			t.Errorf("%s: got %q, want %q", f.key, f.got, want)
		}
	}
	for k, want := range m {
		if knownFields[k] {
			continue
		}
		if _, isObj := want.(map[string]any); isObj {
			continue // nested values are compared by the content test; here only strings
		}
		if _, isArr := want.([]any); isArr {
			continue
		}
		if got, in := r.attrs[k]; !in || !reflect.DeepEqual(got, want) {
			t.Errorf("attribute %q: got %#v (present %v), want %#v", k, got, in, want)
		}
	}
}

func diffLists(got, want []string) string {
	g, w := map[string]int{}, map[string]int{}
	for _, s := range got {
		g[s]++
	}
	for _, s := range want {
		w[s]++
	}
	var b strings.Builder
	for s, n := range g {
		if w[s] != n {
			fmt.Fprintf(&b, "  points %d, rows %d: %s\n", n, w[s], s)
		}
	}
	for s, n := range w {
		if _, seen := g[s]; !seen {
			fmt.Fprintf(&b, "  points 0, rows %d: %s\n", n, s)
		}
	}
	return b.String()
}

// TestHostile_TimeOutsideInfluxRange: a record dated where InfluxDB cannot store a point
// (before 1677-09-21 or after 2262-04-11, the span of int64 nanoseconds) must be rejected
// (bad_time) rather than stored in PostgreSQL and refused by InfluxDB, which leaves the two
// stores disagreeing about what happened.
func TestHostile_TimeOutsideInfluxRange(t *testing.T) {
	dir := t.TempDir()
	lines := []string{normalLine("n", 0),
		`2025-06-01 13:00:00 INFO AI_COST: {"request_id":"h-future","timestamp":"9999-12-31T23:59:59Z","model":"m","input_tokens":1}`,
		normalLine("n", 1),
		`2025-06-01 13:00:00 INFO AI_COST: {"request_id":"h-past","timestamp":"1000-01-01T00:00:00Z","model":"m","input_tokens":1}`,
		normalLine("n", 2),
	}
	log := writeLines(t, dir, "app.log", lines)
	dsn := testenv.PostgresDSN(t)
	ix := testenv.Influx(t)
	backfill(t, loadConfig(t, dir, fmt.Sprintf("sources: [{name: app, paths: [%q]}]\npostgres: {dsn: %q}\ninfluxdb: {url: %q, bucket: %q}\n",
		log, dsn, ix.URL, ix.Bucket)), log)
	conn := pgConn(t, dsn)
	rows := queryInt(t, conn, "SELECT count(*) FROM ai_usage_events")
	if got := ix.CountPoints(t, "ai_usage"); int64(got) != rows {
		t.Errorf("points: got %d, rows %d: want one point per row", got, rows)
	}
	if got, want := queryInt(t, conn, "SELECT count(*) FROM ai_usage_rejects WHERE reason = 'bad_time'"), int64(2); got != want {
		t.Errorf("bad_time rejects: got %d, want %d (years 9999 and 1000)", got, want)
	}
}
