package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/tokentail/tokentail/internal/config"
)

// defaultConfigPaths are tried in order when --config is not given.
var defaultConfigPaths = [...]string{"./tokentail.yaml", "/etc/tokentail/tokentail.yaml"}

// configFlag adds --config to fs.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config file (default ./tokentail.yaml, then /etc/tokentail/tokentail.yaml)")
}

// findConfig returns the config file to use: the flag, else the first
// default that exists. found is false when no file was given or exists.
func findConfig(flagValue string) (path string, found bool, err error) {
	if flagValue != "" {
		if _, err := os.Stat(flagValue); err != nil {
			return "", false, usagef("config file %s: %v", flagValue, errors.Unwrap(err))
		}
		return flagValue, true, nil
	}
	for _, p := range defaultConfigPaths {
		if _, err := os.Stat(p); err == nil {
			return p, true, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", false, fmt.Errorf("config file %s: %w", p, err)
		}
	}
	return "", false, nil
}

// loadConfig loads the config file named by the flag or found by default;
// required says whether running without one is an error.
func (m *Main) loadConfig(flagValue string, required bool) (*config.Config, error) {
	path, found, err := findConfig(flagValue)
	if err != nil {
		return nil, err
	}
	if !found {
		if required {
			return nil, usagef("no config file: pass --config FILE or create ./tokentail.yaml (see config.example.yaml)")
		}
		return config.Default(), nil
	}
	return config.Load(path)
}
