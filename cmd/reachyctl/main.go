// Command reachyctl is a command-line client of reachyd (and of any daemon
// serving the official Reachy Mini API): daemon status and lifecycle,
// moves, motors, apps with their install progress and logs, skills and API
// keys, recorded moves. It is a thin layer over the importable package
// reachyd/client; docs/reachyctl.md describes every command, its --json
// output and its exit codes.
//
// Design: one cobra command tree built per run (newApp), with its streams
// and environment injected, so that the tests run it in-process with
// arguments and captured output against a real reachyd started by
// internal/testdaemon. Errors are classified once, in exitCode: usage
// (2), daemon unreachable (3), timeout (4), interrupted (130), anything
// the daemon refused or that failed (1). Human output by default, a
// stable JSON document (or JSON lines for followed streams) with --json;
// colour and the install progress bar only when stdout is a terminal.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr, outTTY: isTerminal(os.Stdout)}, os.Getenv)
	stop()
	os.Exit(code)
}

// isTerminal reports whether f is a character device (a terminal), without
// a dependency: good enough to decide on colour and progress bars.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
