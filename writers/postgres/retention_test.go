package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tokentail/tokentail/parse"
)

func TestWriter_EnforceRetention(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	day := func(d int) time.Time { return now.AddDate(0, 0, d) }
	w, dsn := openTest(t, Config{Retention: 72 * time.Hour})
	w2, _ := openTest(t, Config{DSN: dsn}) // a second daemon of the fleet
	conn := connect(t, dsn)
	ctx := context.Background()
	var recs []parse.Record
	for _, d := range []int{-10, -5, -4, -3, -1} {
		batch := makeRecords(50, day(d), 1, uint64(100+d))
		for i := range batch {
			batch[i].OccurredAt = day(d).Truncate(24 * time.Hour).Add(time.Duration(i) * time.Minute)
		}
		recs = append(recs, batch...)
	}
	for _, wr := range []*Writer{w, w2} {
		if _, err := wr.Write(ctx, recs); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}

	t.Run("another daemon holds the lock", func(t *testing.T) {
		other := connect(t, dsn)
		if _, err := other.Exec(ctx, "SELECT pg_advisory_lock($1)", lockRetention); err != nil {
			t.Fatal(err)
		}
		defer other.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockRetention)
		got, err := w.EnforceRetention(ctx, now)
		if err != nil || len(got) != 0 {
			t.Errorf("EnforceRetention: got %v, %v; want nothing dropped", got, err)
		}
	})

	got, err := w.EnforceRetention(ctx, now)
	if err != nil {
		t.Fatalf("EnforceRetention: %v", err)
	}
	// Cutoff is 2025-06-12 12:00: June 12 still holds rows within retention.
	want := []string{"ai_usage_events_p20250605", "ai_usage_events_p20250610", "ai_usage_events_p20250611"}
	if !slices.Equal(got, want) {
		t.Errorf("dropped: got %v, want %v", got, want)
	}
	if rows, _, _ := counts(t, conn); rows != 100 {
		t.Errorf("rows left: got %d, want 100 (June 12 and 14)", rows)
	}
	if got, err := w.EnforceRetention(ctx, now); err != nil || len(got) != 0 {
		t.Errorf("second EnforceRetention: got %v, %v; want nothing dropped", got, err)
	}

	t.Run("a daemon whose cached partition was dropped", func(t *testing.T) {
		old := makeRecords(5, day(-10), 1, 999)
		for i := range old {
			old[i].OccurredAt = day(-10).Add(time.Duration(i) * time.Minute)
		}
		res, err := w2.Write(ctx, old)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if res.Inserted != 5 {
			t.Errorf("Result: got %+v, want 5 inserted", res)
		}
	})

	t.Run("zero retention keeps all", func(t *testing.T) {
		got, err := w2.EnforceRetention(ctx, now.AddDate(10, 0, 0))
		if err != nil || got != nil {
			t.Errorf("EnforceRetention: got %v, %v; want nil, nil", got, err)
		}
	})
}

func TestPartitionName(t *testing.T) {
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), "ai_usage_events_p20250102"},
		{time.Date(2025, 1, 2, 23, 59, 59, 999999999, time.UTC), "ai_usage_events_p20250102"},
		{time.Date(2025, 1, 2, 1, 0, 0, 0, time.FixedZone("CET", 3600)), "ai_usage_events_p20250102"},
		{time.Date(2025, 1, 2, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "ai_usage_events_p20250101"},
		{time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC), "ai_usage_events_p19691231"},
	}
	for _, tt := range tests {
		name := partitionName(dayOf(tt.at))
		if name != tt.want {
			t.Errorf("partitionName(%v): got %s, want %s", tt.at, name, tt.want)
		}
		d, ok := parsePartitionName(name)
		if !ok || d != dayOf(tt.at) {
			t.Errorf("parsePartitionName(%s): got %d, %v; want %d", name, d, ok, dayOf(tt.at))
		}
	}
	for _, bad := range []string{"ai_usage_events_p2025010", "ai_usage_events_default", "other_p20250102"} {
		if _, ok := parsePartitionName(bad); ok {
			t.Errorf("parsePartitionName(%s): got ok, want not ours", bad)
		}
	}
}
