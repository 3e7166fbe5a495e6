package main

import (
	"context"

	"github.com/tokentail/tokentail/internal/config"
)

// commands are the subcommands dispatched by name beyond the built-in ones.
func (m *Main) commands() map[string]func(context.Context, []string) error {
	return map[string]func(context.Context, []string) error{
		"backfill": m.runBackfill,
	}
}

// checkServers reaches each configured server; it is filled in with the writers.
func (m *Main) checkServers(ctx context.Context, cfg *config.Config) error {
	_ = ctx
	_ = cfg
	return nil
}
