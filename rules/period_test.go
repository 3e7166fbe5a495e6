package rules

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestPeriodOf_ClockChangeAtMidnight checks calendar periods in zones whose
// clocks change at midnight: a period starts at the first instant of its
// local date and ends where the next one starts.
func TestPeriodOf_ClockChangeAtMidnight(t *testing.T) {
	zone := func(h int) *time.Location { return time.FixedZone("", h*3600) }
	at := func(y int, m time.Month, d, h, off int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, zone(off)) }
	tests := []struct {
		name       string
		tz         string
		period     Period
		t          time.Time
		start, end time.Time
	}{
		// Santiago skips 2024-09-08 00:00-00:59 (-04 to -03): the 7th has 23 hours.
		{"the day before a skipped midnight", "America/Santiago", PeriodDay, at(2024, 9, 7, 12, -4),
			at(2024, 9, 7, 0, -4), at(2024, 9, 8, 1, -3)},
		{"the day of a skipped midnight", "America/Santiago", PeriodDay, at(2024, 9, 8, 12, -3),
			at(2024, 9, 8, 1, -3), at(2024, 9, 9, 0, -3)},
		{"the first instant of that day", "America/Santiago", PeriodDay, at(2024, 9, 8, 1, -3),
			at(2024, 9, 8, 1, -3), at(2024, 9, 9, 0, -3)},
		{"the last instant before it", "America/Santiago", PeriodDay, at(2024, 9, 8, 1, -3).Add(-1),
			at(2024, 9, 7, 0, -4), at(2024, 9, 8, 1, -3)},
		// On 2024-04-07 it goes back from 00:00 -03 to 23:00 -04: the 6th has 25 hours.
		{"the day before a repeated hour", "America/Santiago", PeriodDay, at(2024, 4, 6, 12, -3),
			at(2024, 4, 6, 0, -3), at(2024, 4, 7, 0, -4)},
		{"the day after it", "America/Santiago", PeriodDay, at(2024, 4, 7, 12, -4),
			at(2024, 4, 7, 0, -4), at(2024, 4, 8, 0, -4)},
		// Amman goes back from 01:00 +03 to 00:00 +02 on 2021-10-29: the day
		// starts at the first of its two midnights.
		{"a midnight that happens twice", "Asia/Amman", PeriodDay, at(2021, 10, 29, 12, 2),
			at(2021, 10, 29, 0, 3), at(2021, 10, 30, 0, 2)},
		{"the day before it", "Asia/Amman", PeriodDay, at(2021, 10, 28, 12, 3),
			at(2021, 10, 28, 0, 3), at(2021, 10, 29, 0, 3)},
		// Asuncion skipped the midnight that starts October 2023, and in
		// 1990 the one that started both a month and a week (a Monday).
		{"a month that starts at 01:00", "America/Asuncion", PeriodMonth, at(2023, 10, 15, 12, -3),
			at(2023, 10, 1, 1, -3), at(2023, 11, 1, 0, -3)},
		{"the month before it", "America/Asuncion", PeriodMonth, at(2023, 9, 15, 12, -4),
			at(2023, 9, 1, 0, -4), at(2023, 10, 1, 1, -3)},
		{"a week that starts at 01:00", "America/Asuncion", PeriodWeek, at(1990, 10, 3, 12, -3),
			at(1990, 10, 1, 1, -3), at(1990, 10, 8, 0, -3)},
		{"the week before it", "America/Asuncion", PeriodWeek, at(1990, 9, 28, 12, -4),
			at(1990, 9, 24, 0, -4), at(1990, 10, 1, 1, -3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.tz)
			if err != nil {
				t.Skip(err)
			}
			rs := ruleState{r: &Rule{Period: tc.period, Location: loc}, pStart: math.MaxInt64, pEnd: math.MinInt64}
			rs.periodOf(tc.t.UnixNano())
			start, end := time.Unix(0, rs.pStart).In(loc), time.Unix(0, rs.pEnd).In(loc)
			if !start.Equal(tc.start) || !end.Equal(tc.end) {
				t.Errorf("period of %s: [%s, %s), want [%s, %s)", tc.t.In(loc), start, end, tc.start.In(loc), tc.end.In(loc))
			}
		})
	}
}

// replayAt is replay with records at absolute times: costs in dollars by
// instant. Transitions are "2025-06-02T01:00:10Z firing warning 2.2 {}".
func replayAt(t *testing.T, f *File, costs []atCost, until time.Time) []string {
	t.Helper()
	var recs []rec
	for _, c := range costs {
		recs = append(recs, rec{at: c.at.Sub(t0), cost: c.cost, user: c.user})
	}
	var out []string
	for _, s := range replay(t, f, recs, until.Sub(t0)) {
		// "+<offset from t0> rest": the offset back to a time.
		i := strings.IndexByte(s, ' ')
		d, err := time.ParseDuration(s[1:i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, t0.Add(d).UTC().Format(time.RFC3339)+s[i:])
	}
	return out
}

type atCost struct {
	at   time.Time
	cost string
	user string
}

// TestEngine_ZScoreLastPeriods checks that zscore_over compares with
// exactly the last N calendar periods, N being its span in nominal periods
// (90d is 3 months), whatever their length in hours.
func TestEngine_ZScoreLastPeriods(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip(err)
	}
	noon := func(m time.Month, d int) time.Time { return time.Date(2024, m, d, 12, 0, 0, 0, paris) }
	tests := []struct {
		name  string
		rule  string
		costs []atCost
		until time.Time
		want  []string
	}{
		{
			// March to May are 92 days: more than 90, still 3 months.
			name: "months: 90d is the 3 months before",
			rule: `{name: m, metric: cost_usd, period: month, zscore_over: 90d, warning: 2}`,
			costs: []atCost{
				{at: time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), cost: "20"},
				{at: time.Date(2025, 4, 10, 0, 0, 0, 0, time.UTC), cost: "30"},
				{at: time.Date(2025, 5, 10, 0, 0, 0, 0, time.UTC), cost: "10"}, // mean 20, sd 10
				{at: time.Date(2025, 6, 2, 1, 0, 0, 0, time.UTC), cost: "42"},
			},
			until: time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC),
			// April and May alone: mean 20, sd 14.1, z = 1.56.
			want: []string{"2025-06-02T01:00:10Z firing warning 2.2 {}"},
		},
		{
			// 2024-10-27 has 25 hours in Paris: the 7 days before the 28th
			// are 169 hours.
			name: "days: 7d is the 7 days before, across a clock change",
			rule: `{name: d, metric: cost_usd, period: day, timezone: Europe/Paris, zscore_over: 7d, warning: 2.1}`,
			costs: []atCost{
				{at: noon(10, 21), cost: "11"}, {at: noon(10, 22), cost: "5"}, {at: noon(10, 23), cost: "15"},
				{at: noon(10, 24), cost: "5"}, {at: noon(10, 25), cost: "15"}, {at: noon(10, 26), cost: "5"},
				{at: noon(10, 27), cost: "15"}, // mean 10.14, sd 5.01
				{at: noon(10, 28), cost: "21"},
			},
			until: noon(10, 28).Add(6 * time.Hour),
			// The 6 days from the 22nd: mean 10, sd 5.48, z = 2.01.
			want: []string{"2024-10-28T11:00:10Z firing warning 2.16525 {}"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := mustParse(t, head+"  - "+tc.rule+"\n")
			check(t, replayAt(t, f, tc.costs, tc.until), tc.want)
		})
	}
}

// TestHistoryStart_ZScore checks that the history read at a start holds
// every period a zscore_over compares with.
func TestHistoryStart_ZScore(t *testing.T) {
	tests := []struct {
		rule string
		t    time.Time
		want time.Time
	}{
		// 400 months are about 12,175 days.
		{`{name: m, metric: cost_usd, period: month, zscore_over: 12000d, warning: 2}`,
			time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC), time.Date(1992, 2, 1, 0, 0, 0, 0, time.UTC)},
		// At midnight the day evaluated is the one that ends.
		{`{name: m, metric: cost_usd, period: month, zscore_over: 90d, warning: 2}`,
			time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)},
		{`{name: d, metric: cost_usd, period: day, timezone: Europe/Paris, zscore_over: 7d, warning: 2}`,
			time.Date(2024, 11, 3, 11, 0, 0, 0, time.UTC), time.Date(2024, 10, 26, 22, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		f := mustParse(t, head+"  - "+tc.rule+"\n")
		if got := f.HistoryStart(tc.t); !got.Equal(tc.want) {
			t.Errorf("%s at %s: history from %s, want %s", tc.rule, tc.t, got.UTC(), tc.want)
		}
	}
}
