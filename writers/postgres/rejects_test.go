package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

func TestWriter_WriteRejects(t *testing.T) {
	w, dsn := openTest(t, Config{})
	conn := connect(t, dsn)
	ctx := context.Background()
	at := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	rejs := []parse.Reject{
		{ID: "r1", Source: "api", File: "/var/log/a.log", Offset: 10, Reason: parse.ReasonNotJSON,
			Detail: "not JSON", Raw: []byte("AI_COST: {oops"), At: at},
		{ID: "r2", Source: "api", File: "", Offset: 20, Reason: parse.ReasonInvalidUTF8,
			Detail: "bytes that are not UTF-8", Raw: []byte("a\xffb\x00c"), At: at},
		{ID: "r3", Source: "api", File: "/var/log/a.log", Offset: 30, Reason: parse.ReasonLineTooLong,
			Raw: []byte("a" + strings.Repeat("é", 3000)), At: at}, // 6001 bytes: the cut at 4096 splits an é
		{ID: strings.Repeat("long-id ", 100), Source: "api", Offset: 40, Reason: parse.ReasonNotJSON, Raw: []byte("x"), At: at},
		{Source: "api", Offset: 50, Reason: parse.ReasonNotJSON, Raw: []byte("no id"), At: at},
	}
	for range 2 { // the second time adds nothing
		if err := w.WriteRejects(ctx, rejs); err != nil {
			t.Fatalf("WriteRejects: %v", err)
		}
	}
	if got := queryString(t, conn, "SELECT count(*)::text FROM ai_usage_rejects"); got != "5" {
		t.Errorf("rejects: got %s, want 5", got)
	}
	tests := []struct {
		id, col, want string
	}{
		{"r1", "concat_ws('|', rejected_at AT TIME ZONE 'UTC', source, file, byte_offset, reason, detail, raw)",
			"2025-05-06 07:08:09|api|/var/log/a.log|10|not_json|not JSON|AI_COST: {oops"},
		{"r2", "concat_ws('|', coalesce(file, 'NULL'), raw)", "NULL|a\uFFFDb\\u0000c"},
		{"r3", "octet_length(raw)::text || ' ' || right(raw, 2)", "4098 é\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := queryString(t, conn, "SELECT "+tt.col+" FROM ai_usage_rejects WHERE reject_id = $1", tt.id); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	var longest int
	if err := conn.QueryRow(ctx, "SELECT max(length(reject_id)) FROM ai_usage_rejects").Scan(&longest); err != nil {
		t.Fatal(err)
	}
	if longest > maxRejectID {
		t.Errorf("longest reject_id: got %d characters, want at most %d", longest, maxRejectID)
	}
}

func TestValidText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", ""},
		{"é ok", "é ok"},
		{"a\x00b", `a\u0000b`},
		{"a\xffb", "a\uFFFDb"},
		{"cut \xc3", "cut \uFFFD"},
	}
	for _, tt := range tests {
		if got := validText(tt.in); got != tt.want {
			t.Errorf("validText(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
