package security

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tokentail/tokentail/internal/testenv"
)

// TestContent_NeverStored backfills records that carry prompt and completion text in every
// content field (prompt, messages, completion, response, output, input, content, and a
// drop_fields entry) at several depths, plus rejected lines holding content, into the real
// PostgreSQL and InfluxDB, then searches every column of both tables, every InfluxDB tag and
// field, and the log for the text. Each case's text carries its name, so a leak says which.
func TestContent_NeverStored(t *testing.T) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	marker := "SECRETCONTENT" + hex.EncodeToString(rnd[:])
	m := func(name string) string { return marker + "-" + name }
	const p = "2025-06-01 14:00:00 INFO AI_COST: "
	rec := func(id, rest string) string {
		return p + fmt.Sprintf(`{"request_id":"c-%s","timestamp":"2025-06-01T14:00:00Z","model":"gpt-4o-mini","input_tokens":10,"output_tokens":5,"plan":"pro",%s}`, id, rest)
	}
	stored := []string{
		rec("top", fmt.Sprintf(`"prompt":%q,"completion":%q,"response":%q,"output":%q,"input":%q,"content":%q`,
			m("prompt"), m("completion"), m("response"), m("output"), m("input"), m("content"))),
		rec("messages", fmt.Sprintf(`"messages":[{"role":"system","content":%q},{"role":"user","content":[{"type":"text","text":%q}]}]`,
			m("messages-system"), m("messages-parts"))),
		rec("nested", fmt.Sprintf(`"request":{"params":{"prompt":%q,"temperature":0.2}},"result":{"choices":[{"message":{"content":%q}}]}`,
			m("nested-prompt"), m("nested-choice"))),
		rec("deep", fmt.Sprintf(`"a":{"b":{"c":{"d":{"e":{"messages":[%q]}}}}}`, m("deep"))),
		rec("object", fmt.Sprintf(`"output":{"text":%q,"tokens":5}`, m("object-output"))),
		rec("dropfield", fmt.Sprintf(`"system_prompt":%q,"meta":{"system_prompt":%q}`, m("drop-top"), m("drop-nested"))),
		rec("spaced", fmt.Sprintf(`"prompt" : %q`, m("spaced"))),
		rec("escapedkey", fmt.Sprintf(`"\u0070rompt":%q,"c\u006fntent":%q`, m("escapedkey-prompt"), m("escapedkey-content"))),
		rec("otel", fmt.Sprintf(`"gen_ai.prompt":{"0":{"content":%q}},"gen_ai.completion":[{"content":%q}]`, m("otel-prompt"), m("otel-completion"))),
	}
	// bad builds a record that is rejected for what rest adds (no model or tokens of its own).
	bad := func(id, rest string) string {
		return p + fmt.Sprintf(`{"request_id":"c-%s","timestamp":"2025-06-01T14:00:00Z","plan":"pro",%s}`, id, rest)
	}
	rejected := []string{
		bad("neg", fmt.Sprintf(`"model":"m","prompt":%q,"input_tokens":-1`, m("reject-negative"))),
		p + fmt.Sprintf(`{"request_id":"c-trunc","model":"m","messages":[{"content":%q}],"input_tokens":1`, m("reject-truncated")),
		p + fmt.Sprintf(`{"request_id":"c-trunc-mid","model":"m","prompt":"%s and then the line is cut`, m("reject-cut-value")),
		bad("wrongtype", fmt.Sprintf(`"model":"m","completion":%q,"cost_usd":{"x":1}`, m("reject-wrongtype"))),
		bad("utf8", fmt.Sprintf(`"model":"m","response":"%s `+"\xff"+`"`, m("reject-utf8"))),
		bad("nomodel", fmt.Sprintf(`"model":"","content":%q`, m("reject-nomodel"))),
		bad("escapedkey-reject", fmt.Sprintf(`"model":"m","\u0070rompt":%q,"input_tokens":-2`, m("reject-escapedkey"))),
		bad("escapedkey-nested", fmt.Sprintf(`"model":"m","x":{"me\u0073sages":[%q]},"input_tokens":-3`, m("reject-escapedkey-nested"))),
		rec("toolong", fmt.Sprintf(`"prompt":"%s %s"`, m("reject-toolong"), strings.Repeat("long text ", 1000))),
		p + fmt.Sprintf(`{"request_id":"c-deepcut","model":"m","x":[[[{"messages":%q`, m("reject-deep-cut")),
	}
	dir := t.TempDir()
	lines := []string{normalLine("n", 0)}
	for i := range max(len(stored), len(rejected)) {
		if i < len(stored) {
			lines = append(lines, stored[i])
		}
		if i < len(rejected) {
			lines = append(lines, rejected[i])
		}
		lines = append(lines, normalLine("n", i+1))
	}
	log := writeLines(t, dir, "app.log", lines)
	// Docker's json-file format is detected per file, so its lines have a file of their own.
	docker := writeLines(t, dir, "docker.log", []string{
		`{"log":` + jsonString(rec("docker", fmt.Sprintf(`"prompt":%q`, m("docker")))) + `,"stream":"stdout","time":"2025-06-01T14:00:00Z"}`,
		`{"log":"` + strings.ReplaceAll(rec("docker-bad", fmt.Sprintf(`"prompt":%q`, m("reject-docker"))), `"`, `\"`) + `,"stream":"stdout"`,
	})
	const nDocker = 1 // stored; the other is rejected

	dsn := testenv.PostgresDSN(t)
	ix := testenv.Influx(t)
	cfg := loadConfig(t, dir, fmt.Sprintf(`sources:
  - {name: app, paths: [%q], drop_fields: [system_prompt], max_line_bytes: 4KiB}
postgres: {dsn: %q}
influxdb: {url: %q, bucket: %q}
`, filepath.Join(dir, "*.log"), dsn, ix.URL, ix.Bucket))
	res := backfill(t, cfg, log, docker)
	t.Logf("backfill: %d records, rejects %v", res.Sum.Records, res.Sum.Rejects)

	conn := pgConn(t, dsn)
	// The test is not vacuous: the records and rejects are there, attributes kept.
	if got, want := queryInt(t, conn, "SELECT count(*) FROM ai_usage_events WHERE event_id LIKE 'c-%'"), int64(len(stored)+nDocker); got != want {
		t.Errorf("content records stored: got %d, want %d", got, want)
	}
	if got := queryInt(t, conn, "SELECT count(*) FROM ai_usage_events WHERE event_id LIKE 'c-%' AND attributes->>'plan' = 'pro'"); got == 0 {
		t.Errorf("no stored record kept its plan attribute: got %d", got)
	}
	if got, want := queryInt(t, conn, "SELECT count(*) FROM ai_usage_rejects"), int64(len(rejected)+1); got != want {
		t.Errorf("rejects: got %d, want %d", got, want)
		rows, _ := conn.Query(context.Background(), "SELECT byte_offset, reason, coalesce(detail, '') FROM ai_usage_rejects ORDER BY byte_offset")
		for rows.Next() {
			var off int64
			var reason, detail string
			_ = rows.Scan(&off, &reason, &detail)
			t.Logf("reject at %d: %s: %s", off, reason, detail)
		}
		rows.Close()
	}

	leaks := regexp.MustCompile(regexp.QuoteMeta(marker) + `-[a-z-]+`)
	var found []string
	search := func(where, text string) {
		for _, l := range leaks.FindAllString(text, -1) {
			found = append(found, where+": "+l)
		}
		if strings.Contains(text, marker) && !leaks.MatchString(text) {
			found = append(found, where+": (part of the marker)")
		}
	}
	for _, table := range []string{"ai_usage_events", "ai_usage_rejects"} {
		// t::text is the whole row: every column, attributes and raw included.
		rows, err := conn.Query(context.Background(), "SELECT t::text FROM "+table+" t")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			search(table, s)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	points := 0
	for _, s := range ix.Query(t, "SELECT * FROM ai_usage GROUP BY *") {
		search("influxdb", fmt.Sprint(s.Tags, s.Columns, s.Values))
		points += len(s.Values)
	}
	if want := int(queryInt(t, conn, "SELECT count(*) FROM ai_usage_events")); points != want {
		t.Errorf("points: got %d, want %d", points, want)
	}
	search("log", res.Log)
	for _, f := range found {
		t.Errorf("content stored: %s", f)
	}
}

// jsonString quotes s as a JSON string (Docker's json-file "log" value).
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`\n"`)
	return b.String()
}
