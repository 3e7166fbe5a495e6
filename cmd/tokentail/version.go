package main

import (
	"flag"
	"fmt"
	"runtime"
)

func (m *Main) runVersion(args []string) error {
	fs := flag.NewFlagSet("tokentail version", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	fmt.Fprintf(m.Stdout, "tokentail %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
