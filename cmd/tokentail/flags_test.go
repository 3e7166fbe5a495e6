package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestParseFlags_Interspersed(t *testing.T) {
	cases := []struct {
		args  []string
		alert bool
		cfg   string
		pos   []string
	}{
		{[]string{"a.log", "--alerts", "b.log.gz"}, true, "", []string{"a.log", "b.log.gz"}},
		{[]string{"--config", "x.yaml", "a.log", "--alerts"}, true, "x.yaml", []string{"a.log"}},
		{[]string{"a.log", "--config=y.yaml"}, false, "y.yaml", []string{"a.log"}},
		{[]string{"a.log", "--", "--alerts", "-b"}, false, "", []string{"a.log", "--alerts", "-b"}},
		{nil, false, "", nil},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		alerts := fs.Bool("alerts", false, "")
		cfg := fs.String("config", "", "")
		if err := parseFlags(fs, c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if *alerts != c.alert || *cfg != c.cfg || !slices.Equal(fs.Args(), c.pos) {
			t.Errorf("%q: alerts %v config %q args %q; want %v %q %q", c.args, *alerts, *cfg, fs.Args(), c.alert, c.cfg, c.pos)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := parseFlags(fs, []string{"a.log", "--nope"}); err == nil {
		t.Error("an unknown flag after a path was accepted")
	}
}
