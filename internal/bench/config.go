package bench

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The parts of a run, in the order they run. BENCH_ONLY and BENCH_SKIP name them.
const (
	PartParse         = "parse"
	PartBackfill      = "backfill"
	PartLatency       = "latency"
	PartIdle          = "idle"
	PartThroughput    = "throughput"
	PartOutagePG      = "outage-pg"
	PartOutageInflux  = "outage-influx"
	partOutageAliases = "outage" // both outage parts
)

// Parts lists every part in run order.
func Parts() []string {
	return []string{PartParse, PartBackfill, PartLatency, PartIdle, PartThroughput, PartOutagePG, PartOutageInflux}
}

// Config is what a run measures and how big. The zero value is not useful:
// start from DefaultConfig or ConfigFromEnv.
type Config struct {
	// Repo is the repository root (holds go.mod and scripts/testenv.sh).
	Repo string
	// Dir is the work directory (logs, CSV, servers' data); "" makes a
	// temporary one, removed at the end.
	Dir string
	// Keep leaves Dir in place at the end (servers are stopped anyway).
	Keep bool
	// Out is the markdown file the results are written to; "" writes none.
	Out string
	// Parts to run, by name.
	Parts map[string]bool

	// Backfill: Records record lines, Noise fraction of other lines.
	Records int
	Noise   float64
	// BackfillRounds > 1 repeats the comparison, alternating which load
	// goes first; the figures are the sums over rounds.
	BackfillRounds int
	// BatchSize is tokentail's postgres and influxdb batch_size, and the
	// number of points per raw POST.
	BatchSize int

	// BatchTimeout is postgres.batch_timeout and influxdb.batch_timeout of
	// the daemon runs: it bounds how long a record waits for its batch.
	BatchTimeout time.Duration

	// Latency: LiveFiles files, LiveRate records/s, for LiveDuration.
	LiveFiles    int
	LiveRate     int
	LiveDuration time.Duration

	// Idle: IdleFiles files followed for IdleDuration.
	IdleFiles    int
	IdleDuration time.Duration

	// Throughput: ThroughputRate records/s through one file for ThroughputDuration.
	ThroughputRate     int
	ThroughputDuration time.Duration

	// Outage: OutageRate records/s; the server is down for OutageDuration,
	// with OutageCalm of steady writing before and after.
	OutageRate     int
	OutageDuration time.Duration
	OutageCalm     time.Duration

	// Ports of the private servers: never the test harness's defaults.
	PGPort, InfluxPort, InfluxRPCPort, VMPort int
}

// DefaultConfig is the full run: well under 30 minutes on 2 cores.
func DefaultConfig() Config {
	parts := map[string]bool{}
	for _, p := range Parts() {
		parts[p] = true
	}
	return Config{
		Out:                "BENCHMARKS.md",
		Parts:              parts,
		Records:            1_000_000,
		Noise:              0.5,
		BackfillRounds:     1,
		BatchSize:          5000,
		BatchTimeout:       50 * time.Millisecond,
		LiveFiles:          20,
		LiveRate:           2000,
		LiveDuration:       30 * time.Second,
		IdleFiles:          500,
		IdleDuration:       20 * time.Second,
		ThroughputRate:     50_000,
		ThroughputDuration: 20 * time.Second,
		OutageRate:         2000,
		OutageDuration:     60 * time.Second,
		OutageCalm:         20 * time.Second,
		PGPort:             56532,
		InfluxPort:         59186,
		InfluxRPCPort:      59188,
		VMPort:             59528,
	}
}

// quick shortens every timed part for BENCH_QUICK=1: a run of a few minutes
// whose figures show the shape, not the truth.
func (c *Config) quick() {
	c.LiveDuration = 10 * time.Second
	c.IdleDuration = 10 * time.Second
	c.ThroughputDuration = 10 * time.Second
	c.OutageDuration = 20 * time.Second
	c.OutageCalm = 8 * time.Second
}

// EnvHelp documents the environment ConfigFromEnv reads.
const EnvHelp = `Environment (all optional):
  BENCH_ONLY=backfill,latency   run only these parts (parse, backfill, latency, idle,
                                throughput, outage-pg, outage-influx; outage = both)
  BENCH_SKIP=outage-influx      run all parts but these
  BENCH_QUICK=1                 shorter timed parts (10s live, 20s outage)
  BENCH_RECORDS=1000000         backfill size in records; BENCH_NOISE=0.5 other lines
  BENCH_ROUNDS=1                backfill comparisons, alternating which load goes first
  BENCH_BATCH_SIZE=5000         tokentail batch_size and points per raw POST
  BENCH_BATCH_TIMEOUT=50ms      the daemon's postgres/influxdb batch_timeout
  BENCH_LIVE_FILES=20 BENCH_LIVE_RATE=2000 BENCH_LIVE_SECONDS=30
  BENCH_IDLE_FILES=500 BENCH_IDLE_SECONDS=20
  BENCH_THROUGHPUT_RATE=50000 BENCH_THROUGHPUT_SECONDS=20
  BENCH_OUTAGE_RATE=2000 BENCH_OUTAGE_SECONDS=60 BENCH_OUTAGE_CALM_SECONDS=20
  BENCH_DIR=DIR                 work directory (default: a new temporary one, removed)
  BENCH_KEEP=1                  keep the work directory
  BENCH_OUT=BENCHMARKS.md       markdown output, relative to the repository (- for none)
  TOKENTAIL_TEST_PG_PORT=56532 TOKENTAIL_TEST_INFLUX_PORT=59186
  TOKENTAIL_TEST_INFLUX_RPC_PORT=59188 TOKENTAIL_TEST_VM_PORT=59528
                                the private servers' ports (not the test harness's)`

// ConfigFromEnv returns DefaultConfig changed by the BENCH_* variables
// (see EnvHelp). Every bad value is reported, not only the first.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	if truthy(getenv("BENCH_QUICK")) {
		c.quick()
	}
	var errs []error
	intVar := func(name string, dst *int, min int) {
		s := getenv(name)
		if s == "" {
			return
		}
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number >= %d", name, s, min))
			return
		}
		*dst = n
	}
	secondsVar := func(name string, dst *time.Duration) {
		s := getenv(name)
		if s == "" {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want seconds > 0", name, s))
			return
		}
		*dst = time.Duration(f * float64(time.Second))
	}
	intVar("BENCH_RECORDS", &c.Records, 1)
	intVar("BENCH_ROUNDS", &c.BackfillRounds, 1)
	intVar("BENCH_BATCH_SIZE", &c.BatchSize, 1)
	intVar("BENCH_LIVE_FILES", &c.LiveFiles, 1)
	intVar("BENCH_LIVE_RATE", &c.LiveRate, 1)
	intVar("BENCH_IDLE_FILES", &c.IdleFiles, 1)
	intVar("BENCH_THROUGHPUT_RATE", &c.ThroughputRate, 1)
	intVar("BENCH_OUTAGE_RATE", &c.OutageRate, 1)
	intVar("TOKENTAIL_TEST_PG_PORT", &c.PGPort, 1)
	intVar("TOKENTAIL_TEST_INFLUX_PORT", &c.InfluxPort, 1)
	intVar("TOKENTAIL_TEST_INFLUX_RPC_PORT", &c.InfluxRPCPort, 1)
	intVar("TOKENTAIL_TEST_VM_PORT", &c.VMPort, 1)
	secondsVar("BENCH_LIVE_SECONDS", &c.LiveDuration)
	secondsVar("BENCH_IDLE_SECONDS", &c.IdleDuration)
	secondsVar("BENCH_THROUGHPUT_SECONDS", &c.ThroughputDuration)
	secondsVar("BENCH_OUTAGE_SECONDS", &c.OutageDuration)
	secondsVar("BENCH_OUTAGE_CALM_SECONDS", &c.OutageCalm)
	if s := getenv("BENCH_NOISE"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 || f >= 1 {
			errs = append(errs, fmt.Errorf("BENCH_NOISE=%q: want a fraction in [0, 1)", s))
		} else {
			c.Noise = f
		}
	}
	if s := getenv("BENCH_BATCH_TIMEOUT"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("BENCH_BATCH_TIMEOUT=%q: want a duration such as 50ms", s))
		} else {
			c.BatchTimeout = d
		}
	}
	switch s := getenv("BENCH_OUT"); s {
	case "":
	case "-":
		c.Out = ""
	default:
		c.Out = s
	}
	c.Dir = getenv("BENCH_DIR")
	c.Keep = truthy(getenv("BENCH_KEEP"))
	if s := getenv("BENCH_ONLY"); s != "" {
		only, err := parseParts(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("BENCH_ONLY: %w", err))
		} else {
			c.Parts = only
		}
	}
	if s := getenv("BENCH_SKIP"); s != "" {
		skip, err := parseParts(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("BENCH_SKIP: %w", err))
		}
		for p := range skip {
			delete(c.Parts, p)
		}
	}
	return c, errors.Join(errs...)
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// parseParts reads a comma-separated list of part names.
func parseParts(s string) (map[string]bool, error) {
	known := map[string]bool{}
	for _, p := range Parts() {
		known[p] = true
	}
	out := map[string]bool{}
	var bad []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case f == partOutageAliases:
			out[PartOutagePG], out[PartOutageInflux] = true, true
		case known[f]:
			out[f] = true
		default:
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("unknown part %s (known: %s, outage)", strings.Join(bad, ", "), strings.Join(Parts(), ", "))
	}
	return out, nil
}
