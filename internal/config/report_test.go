package config

import (
	"strings"
	"testing"
)

func TestParse_Report(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		want     *Report
		wantRate float64
	}{
		{"absent", "", nil, 1},
		{"empty section is USD", "report:\n", &Report{Currency: "USD"}, 1},
		{"USD with rate 1", "report: {currency: USD, rate: 1}\n", &Report{Currency: "USD", Rate: 1}, 1},
		{"EUR", "report: {currency: EUR, rate: 0.92}\n", &Report{Currency: "EUR", Rate: 0.92}, 0.92},
		{"rate from env", "report: {currency: JPY, rate: \"${RATE:-151.5}\"}\n", &Report{Currency: "JPY", Rate: 151.5}, 151.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseString(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.want == nil && c.Report != nil:
				t.Errorf("report: got %+v, want nil", *c.Report)
			case tt.want != nil && (c.Report == nil || *c.Report != *tt.want):
				t.Errorf("report: got %+v, want %+v", c.Report, *tt.want)
			}
			if got := c.Report.USDRate(); got != tt.wantRate {
				t.Errorf("USDRate: got %v, want %v", got, tt.wantRate)
			}
		})
	}
}

func TestParse_ReportProblems(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"lower case", "report:\n  currency: eur\n  rate: 0.9\n", `t.yaml:2:3: report.currency: "eur" is not an ISO 4217 currency code`},
		{"too long", "report: {currency: EURO, rate: 0.9}\n", `t.yaml:1:10: report.currency: "EURO" is not an ISO 4217 currency code`},
		{"empty", "report: {currency: \"\"}\n", `report.currency: "" is not an ISO 4217 currency code`},
		// A missing key is placed at its nearest written parent.
		{"no rate", "report:\n  currency: EUR\n", `t.yaml:1:1: report.rate: required for EUR`},
		{"zero rate", "report:\n  currency: EUR\n  rate: 0\n", `t.yaml:3:3: report.rate: required for EUR: how many EUR one USD is worth, more than 0`},
		{"negative rate", "report:\n  currency: GBP\n  rate: -0.8\n", `t.yaml:3:3: report.rate: required for GBP`},
		{"rate not a number", "report:\n  currency: GBP\n  rate: lots\n", `t.yaml:3:9: report.rate: expected a number such as 0.92, got "lots"`},
		{"rate NaN", "report:\n  currency: GBP\n  rate: .nan\n", `t.yaml:3:9: report.rate: expected a number`},
		{"USD with another rate", "report:\n  currency: USD\n  rate: 0.5\n", `t.yaml:3:3: report.rate: must be 1 or unset for USD`},
		{"unknown key", "report: {curency: EUR}\n", `report.curency: unknown key (did you mean "currency"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.data)
			got := problems(t, err)
			if !slicesContains(got, tt.want) {
				t.Errorf("got problems\n%s\nwant one containing %q", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}
