package rules

import (
	"math"
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
