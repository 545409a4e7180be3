package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"reachyd/client"
)

// Exit codes (docs/reachyctl.md).
const (
	exitOK          = 0
	exitFailed      = 1 // the daemon refused, or the operation failed
	exitUsage       = 2
	exitUnreachable = 3
	exitTimeout     = 4
	exitInterrupted = 130
)

// Version is reachyctl's version (set with -ldflags at release).
var Version = "0.1.0-dev"

type streams struct {
	in     io.Reader
	out    io.Writer
	err    io.Writer
	outTTY bool // stdout is a terminal: colour and progress bars
}

// app is one run of reachyctl: its streams, environment and global flags.
type app struct {
	streams
	getenv func(string) string

	url        string
	json       bool
	timeout    time.Duration
	reqTimeout time.Duration
	apiKey     string
	apiKeyFile string
	noColor    bool

	client *client.Client
	// started is set once a command's own code runs: errors before that
	// (flags, arguments) are usage errors.
	started bool
	// cancel ends the --timeout context.
	cancel context.CancelFunc
}

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// run runs reachyctl with args and returns its exit code.
func run(ctx context.Context, args []string, s streams, getenv func(string) string) int {
	a := &app{streams: s, getenv: getenv}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	err := root.ExecuteContext(ctx)
	if a.cancel != nil {
		a.cancel()
	}
	code := a.exitCode(ctx, err)
	if err != nil {
		a.printError(err, code)
	}
	return code
}

func (a *app) exitCode(ctx context.Context, err error) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue) || !a.started:
		return exitUsage
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case client.IsTimeout(err):
		return exitTimeout
	case client.IsUnreachable(err):
		return exitUnreachable
	}
	return exitFailed
}

// printError writes the error to stderr: a line of text, or with --json a
// JSON object {"error", "exit_code"[, "status"]}.
func (a *app) printError(err error, code int) {
	msg := err.Error()
	switch code {
	case exitUnreachable:
		msg = "cannot reach the daemon at " + a.url + ": " + msg
	case exitTimeout:
		msg = "timed out: " + msg
	case exitInterrupted:
		msg = "interrupted"
	}
	if a.json {
		o := map[string]any{"error": msg, "exit_code": code}
		var ae *client.APIError
		if errors.As(err, &ae) {
			o["status"] = ae.Status
			o["detail"] = ae.Detail
		}
		b, _ := json.Marshal(o)
		fmt.Fprintln(a.err, string(b))
		return
	}
	prefix := "reachyctl: "
	if code == exitUsage {
		prefix = "reachyctl: usage: "
	}
	fmt.Fprintln(a.err, prefix+msg)
	if code == exitUsage && !strings.Contains(msg, "--help") {
		fmt.Fprintln(a.err, "Run 'reachyctl --help' for usage.")
	}
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "reachyctl",
		Short: "Command-line client of reachyd, the Reachy Mini daemon",
		Long: `reachyctl drives a Reachy Mini through its daemon's HTTP API (reachyd, or the
official daemon for the commands it serves).

The daemon's address comes from --url, else $REACHYD_URL, else
http://127.0.0.1:8000. Exit codes: 0 ok, 1 the daemon refused or the
operation failed, 2 usage, 3 cannot reach the daemon, 4 timeout,
130 interrupted. --json prints a stable JSON document on stdout (see
docs/reachyctl.md) and errors as JSON on stderr.`,
		Version:           Version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: a.setup,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	f.StringVar(&a.url, "url", "", "daemon address (default $REACHYD_URL, else "+client.DefaultURL+")")
	f.BoolVar(&a.json, "json", false, "print JSON for scripts (stable shapes, see docs/reachyctl.md)")
	f.DurationVar(&a.timeout, "timeout", 0, "give up on the whole command after this long, exit code 4 (0: no limit)")
	f.DurationVar(&a.reqTimeout, "request-timeout", client.DefaultTimeout, "give up on one request to the daemon after this long")
	f.StringVar(&a.apiKey, "api-key", "", "API key of the skills API (default $REACHYD_API_KEY; visible to other users in ps, prefer the variable or --api-key-file)")
	f.StringVar(&a.apiKeyFile, "api-key-file", "", "read the API key from this file")
	f.BoolVar(&a.noColor, "no-color", false, "no colour (also $NO_COLOR; there is none when stdout is not a terminal)")

	root.AddCommand(a.statusCmd(), a.stateCmd(), a.daemonCmd(), a.wakeCmd(), a.sleepCmd(), a.gotoCmd(),
		a.motorsCmd(), a.appsCmd(), a.skillsCmd(), a.keysCmd(), a.movesCmd())
	wrapArgs(root)
	return root
}

// wrapArgs makes every command's argument errors usage errors.
func wrapArgs(c *cobra.Command) {
	if v := c.Args; v != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := v(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// setup makes the client once the flags are parsed.
func (a *app) setup(cmd *cobra.Command, _ []string) error {
	if a.url == "" {
		a.url = a.getenv("REACHYD_URL")
	}
	if a.url == "" {
		a.url = client.DefaultURL
	}
	if a.apiKey == "" && a.apiKeyFile != "" {
		b, err := os.ReadFile(a.apiKeyFile)
		if err != nil {
			return usagef("--api-key-file: %v", err)
		}
		a.apiKey = strings.TrimSpace(string(b))
	}
	if a.apiKey == "" {
		a.apiKey = a.getenv("REACHYD_API_KEY")
	}
	if a.reqTimeout < 0 || a.timeout < 0 {
		return usagef("timeouts must not be negative")
	}
	opts := []client.Option{client.WithTimeout(a.reqTimeout), client.WithUserAgent("reachyctl/" + Version)}
	if a.apiKey != "" {
		opts = append(opts, client.WithAPIKey(a.apiKey))
	}
	c, err := client.New(a.url, opts...)
	if err != nil {
		return usageError{err}
	}
	a.client = c
	if a.timeout > 0 {
		ctx, cancel := context.WithTimeout(cmd.Context(), a.timeout)
		a.cancel = cancel
		cmd.SetContext(ctx)
	}
	return nil
}

// do wraps a command's code: from here on, errors are not usage errors.
func (a *app) do(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.started = true
		return fn(cmd.Context(), args)
	}
}

// ---- output -------------------------------------------------------------------

// printJSON writes v as one line of JSON.
func (a *app) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.out, string(b))
	return err
}

// emit prints v as JSON with --json, else calls human.
func (a *app) emit(v any, human func(w io.Writer)) error {
	if a.json {
		return a.printJSON(v)
	}
	human(a.out)
	return nil
}

func (a *app) colorOn() bool {
	return a.outTTY && !a.noColor && a.getenv("NO_COLOR") == ""
}

// paint colours s when colour is on: "green", "red", "yellow", "bold".
func (a *app) paint(color, s string) string {
	if !a.colorOn() {
		return s
	}
	codes := map[string]string{"green": "32", "red": "31", "yellow": "33", "bold": "1", "dim": "2"}
	return "\x1b[" + codes[color] + "m" + s + "\x1b[0m"
}

// stateColor picks the colour of a state word.
func stateColor(s string) string {
	switch s {
	case "running", "enabled", "done", "completed", "free", "COMPLETED":
		return "green"
	case "error", "failed", "ERROR":
		return "red"
	}
	return "yellow"
}
