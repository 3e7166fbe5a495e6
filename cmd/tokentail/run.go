package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/tokentail/tokentail/internal/pipeline"
	"github.com/tokentail/tokentail/rules"
)

func (m *Main) runRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tokentail run", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	configPath := configFlag(fs)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: tokentail run [--config FILE]\n\nThe daemon: follows the configured sources, writes every record to PostgreSQL and\nInfluxDB exactly once, serves /healthz, /readyz and /metrics. SIGTERM or Ctrl-C\nstops it cleanly (positions saved); SIGHUP reloads the rules.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("run takes no arguments (got %q)", fs.Args())
	}
	cfg, err := m.loadConfig(*configPath, true)
	if err != nil {
		return err
	}
	log := newLogger(m.Stderr, cfg.Log)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	if len(cfg.Sources) == 0 {
		return usagef("%s: no sources: add at least one under sources:", cfg.File)
	}
	if cfg.Postgres == nil && cfg.InfluxDB == nil {
		return usagef("%s: nowhere to write: configure postgres or influxdb", cfg.File)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	prices, err := pipeline.PriceTable(cfg)
	if err != nil {
		return err
	}
	var rulesFile *rules.File
	if cfg.RulesFile != "" {
		if rulesFile, err = rules.Load(cfg.RulesFile); err != nil {
			return err
		}
		for _, w := range rulesFile.Warnings() {
			log.Warn(w)
		}
	}
	var ln net.Listener
	if cfg.HTTP != nil {
		if ln, err = net.Listen("tcp", cfg.HTTP.Listen); err != nil {
			return fmt.Errorf("http.listen: %w", err)
		}
		defer ln.Close()
		log.Info("serving /healthz /readyz /metrics", "listen", ln.Addr().String())
	}
	log.Info("connecting to the configured servers")
	ws, err := pipeline.OpenWriters(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer ws.Close()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	hupCtx, stopHup := context.WithCancel(ctx)
	defer stopHup()
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				// Logs go to stderr, which the supervisor owns: nothing to
				// reopen. The rules file is read again.
				log.Info("SIGHUP received: reloading the rules")
				select {
				case reload <- struct{}{}:
				default: // a reload is already pending
				}
			}
		}
	}()

	d, err := pipeline.NewDaemon(pipeline.DaemonOptions{Config: cfg, Writers: ws, Prices: prices, Logger: log, Listener: ln,
		Rules: rulesFile, Reload: reload})
	if err != nil {
		return usagef("%s: %v", cfg.File, err)
	}
	return d.Run(ctx)
}
