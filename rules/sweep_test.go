package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEngine_SweepPeriodGroups checks that the groups of zscore_over and
// below period rules are forgotten once they hold nothing (no record in the
// periods compared with, no alert), so that max_groups makes room for new
// ones, and that forgetting them changes no transition: a group with no
// record in the periods compared with starts afresh whether it was kept or
// forgotten.
func TestEngine_SweepPeriodGroups(t *testing.T) {
	rules := func(maxGroups int) *File {
		return mustParse(t, head+strings.ReplaceAll(`  - {name: z, metric: cost_usd, period: day, zscore_over: 3d, group_by: [user_id], warning: 2, max_groups: MAX}
  - {name: low, metric: cost_usd, aggregate: avg, period: day, group_by: [user_id], warning: 1, below: true, max_groups: MAX}
`, "MAX", fmt.Sprint(maxGroups)))
	}
	day := func(d int) time.Duration { return time.Duration(d)*24*time.Hour + 12*time.Hour }
	recs := []rec{
		{at: day(0), user: "a", cost: "5"}, {at: day(0), user: "b", cost: "5"},
		{at: day(1), user: "a", cost: "5"}, {at: day(1), user: "b", cost: "5"},
		// a and b stop: the below rule forgets them on day 3, z on day 5.
		{at: day(5), user: "c", cost: "10"}, {at: day(5), user: "d", cost: "0.5"},
		{at: day(6), user: "c", cost: "12"},
		{at: day(6), user: "a", cost: "5"}, // back after 4 days: as new
		{at: day(7), user: "c", cost: "8"},
		{at: day(7), user: "a", cost: "20"}, // compared with day 6 only: no value
		{at: day(8), user: "c", cost: "10"},
		{at: day(9), user: "c", cost: "30"}, // z = 10 against 12, 8, 10
	}
	want := []string{
		"+132h0m10s firing warning 0.5 {user_id=d}",
		"+144h0m10s resolved warning none {user_id=d}",
		"+228h0m10s firing warning 10 {user_id=c}",
		"+240h0m10s resolved warning -1.31519 {user_id=c}", // 8, 10, 30,
	}
	check(t, drive(t, New(rules(1000), nil), recs, day(11)), want)

	e := New(rules(3), nil)
	check(t, drive(t, e, recs, day(11)), want)
	for _, st := range e.Stats() {
		if st.GroupsDropped != 0 {
			t.Errorf("rule %s dropped %d records at max_groups", st.Rule, st.GroupsDropped)
		}
	}
}
