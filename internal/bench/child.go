package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Usage is what a finished child process cost.
type Usage struct {
	Wall      time.Duration
	User, Sys time.Duration
	MaxRSSKiB int64
}

// CPU is user + system time.
func (u Usage) CPU() time.Duration { return u.User + u.Sys }

func usageOf(ps *os.ProcessState, wall time.Duration) Usage {
	u := Usage{Wall: wall, User: ps.UserTime(), Sys: ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.MaxRSSKiB = ru.Maxrss // KiB on Linux
	}
	return u
}

// command returns cmd ready to run under ctx: cancelling ctx sends SIGTERM
// (tokentail stops cleanly on it), then SIGKILL after 30 s.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	return cmd
}

// RunMeasured runs a command to its end and returns its wall time and rusage;
// its stdout is returned, its stderr is kept in logFile.
func RunMeasured(ctx context.Context, logFile string, name string, args ...string) (Usage, []byte, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return Usage{}, nil, fmt.Errorf("create %s: %w", logFile, err)
	}
	defer lf.Close()
	var out bytes.Buffer
	cmd := command(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, lf
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return Usage{}, out.Bytes(), fmt.Errorf("%s %s: %w (stderr in %s: %s)", filepath.Base(name), args[0], err, logFile, tailFile(logFile, 5))
	}
	return usageOf(cmd.ProcessState, wall), out.Bytes(), nil
}

// Daemon is a running `tokentail run`.
type Daemon struct {
	cmd     *exec.Cmd
	logFile string
	http    string
	done    chan struct{}
	err     error
}

// StartDaemon starts `tokentail run --config config`, whose http.listen is
// httpAddr, and waits until /readyz answers 200 (every writer reachable).
func StartDaemon(ctx context.Context, bin, config, httpAddr, logFile string) (*Daemon, error) {
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logFile, err)
	}
	// Not exec.CommandContext: the daemon must outlive a cancelled ctx long
	// enough for Stop to send SIGTERM and collect its rusage.
	cmd := exec.Command(bin, "run", "--config", config)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start tokentail run: %w", err)
	}
	d := &Daemon{cmd: cmd, logFile: logFile, http: httpAddr, done: make(chan struct{})}
	// The owner of this goroutine is the Daemon: Stop waits for it.
	go func() {
		d.err = cmd.Wait()
		lf.Close()
		close(d.done)
	}()
	if err := d.waitReady(ctx, 60*time.Second); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

func (d *Daemon) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-d.done:
			return fmt.Errorf("tokentail run exited at start: %v (log %s: %s)", d.err, d.logFile, tailFile(d.logFile, 5))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := client.Get("http://" + d.http + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("tokentail run not ready after %s (log %s: %s)", limit, d.logFile, tailFile(d.logFile, 5))
		}
	}
}

// Stop sends SIGTERM, waits for the daemon to exit (SIGKILL after 30 s) and
// returns its usage. It is idempotent.
func (d *Daemon) Stop() (Usage, error) {
	select {
	case <-d.done:
	default:
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	}
	u := usageOf(d.cmd.ProcessState, 0)
	var ee *exec.ExitError
	if d.err != nil && !errors.As(d.err, &ee) {
		return u, d.err
	}
	if !d.cmd.ProcessState.Success() {
		return u, fmt.Errorf("tokentail run: %s (log %s: %s)", d.cmd.ProcessState, d.logFile, tailFile(d.logFile, 5))
	}
	return u, nil
}

// freeAddr returns a loopback address no one listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// tailFile is the last n lines of a file, for error messages.
func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(string(bytes.TrimSpace(b)), n)
}
