package main

import (
	"context"
	"flag"
	"fmt"
)

func (m *Main) runConfig(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return usagef("usage: tokentail config check [--config FILE] [--print]")
	}
	fs := flag.NewFlagSet("tokentail config check", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	print := fs.Bool("print", false, "print the effective config, secrets masked")
	if err := parseFlags(fs, args[1:]); err != nil {
		return usagef("%v", err)
	}
	cfg, err := m.loadConfig(*configPath, true)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(m.Stderr, "warning: "+w)
	}
	if *print {
		out, err := cfg.Redacted()
		if err != nil {
			return err
		}
		m.Stdout.Write(out)
	}
	fmt.Fprintf(m.Stdout, "%s: valid (%d sources", cfg.File, len(cfg.Sources))
	if cfg.Prices != nil {
		fmt.Fprintf(m.Stdout, ", %d prices", len(cfg.Prices.Models))
	}
	fmt.Fprintln(m.Stdout, ")")
	return m.checkServers(ctx, cfg)
}
