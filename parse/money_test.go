package parse

import (
	"errors"
	"math/big"
	"testing"
)

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
	}{
		{"0.0002", "0.0002", nil},
		{"12", "12", nil},
		{"12.50", "12.5", nil},
		{"1.5e-4", "0.00015", nil},
		{"1E2", "100", nil},
		{"0.0000000000015", "0.000000000002", nil},  // half to even: 1.5 → 2
		{"0.0000000000025", "0.000000000002", nil},  // 2.5 → 2
		{"0.00000000000251", "0.000000000003", nil}, // above half
		{"0.0000000000004", "0", nil},
		{"-0", "0", nil},
		{"+3.25", "3.25", nil},
		{"9223372.036854775807", "9223372.036854775807", nil},
		{"9300000", "", ErrMoneyRange},
		{"1e30", "", ErrMoneyRange},
		{"-0.01", "", ErrMoneyNegative},
		{"", "", ErrMoneySyntax},
		{"1.2.3", "", ErrMoneySyntax},
		{"abc", "", ErrMoneySyntax},
		{"1e", "", ErrMoneySyntax},
		{".", "", ErrMoneySyntax},
	}
	for _, tt := range tests {
		got, err := ParseMoney(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("ParseMoney(%q) error %v, want %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && got.String() != tt.want {
			t.Errorf("ParseMoney(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzParseMoney checks ParseMoney against math/big: whatever it accepts it
// reads exactly (to the picodollar, rounding half to even).
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"0.0002", "1e-3", "123.456789012345678", "0.0000000000005", "7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMoney(s)
		if err != nil {
			return
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			if m == 0 {
				return // "0e99999999": zero, but too big an exponent for math/big
			}
			t.Fatalf("ParseMoney accepted %q, math/big does not", s)
		}
		if r.Sign() < 0 {
			if m != 0 {
				t.Fatalf("negative %q gave %s", s, m)
			}
			return
		}
		r.Mul(r, new(big.Rat).SetInt64(picoPerUnit))
		// round half to even
		q, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
		twice := new(big.Int).Mul(rem, big.NewInt(2))
		switch twice.Cmp(r.Denom()) {
		case 1:
			q.Add(q, big.NewInt(1))
		case 0:
			if q.Bit(0) == 1 {
				q.Add(q, big.NewInt(1))
			}
		}
		if !q.IsInt64() || q.Int64() != int64(m) {
			t.Fatalf("ParseMoney(%q) = %d picodollars, want %s", s, int64(m), q)
		}
		back, err := ParseMoney(m.String())
		if err != nil || back != m {
			t.Fatalf("round trip of %s: %v %v", m, back, err)
		}
	})
}
