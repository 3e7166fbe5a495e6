// Package chaos holds the tests that prove tokentail's exactly-once promise
// under abuse: the real binary killed with SIGKILL at random moments while
// files grow and rotate, databases stopped mid-stream. It has no non-test
// code; `make chaos` runs its long version.
package chaos
