package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"reachyd/client"
)

func (a *app) appsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "apps", Short: "List, install, remove, start and stop apps; follow their output"}
	cmd.AddCommand(a.appsList(), a.appsInstall(), a.appsRemove(), a.appsStart(), a.appsStop(), a.appsStatus(), a.appsLogs())
	return cmd
}

// completeInstalled completes the names of installed apps.
func (a *app) completeInstalled(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if err := a.setup(cmd, args); err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
	defer cancel()
	apps, err := a.client.Apps(ctx, client.SourceInstalled)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	names := make([]string, 0, len(apps))
	for _, ap := range apps {
		names = append(names, ap.Name+"\t"+ap.Description)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func (a *app) appsList() *cobra.Command {
	var installed bool
	var source string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the apps the daemon offers (catalogue and installed), or only the installed ones",
		Args:  cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			if installed {
				source = client.SourceInstalled
			}
			apps, err := a.client.Apps(ctx, source)
			if err != nil {
				return err
			}
			if apps == nil {
				apps = []client.AppInfo{}
			}
			return a.emit(apps, func(w io.Writer) {
				if len(apps) == 0 {
					fmt.Fprintln(w, "No apps.")
					return
				}
				for _, ap := range apps {
					desc := strings.TrimSpace(ap.Description)
					if len(desc) > 60 {
						desc = desc[:57] + "..."
					}
					fmt.Fprintf(w, "%-28s %-20s %s\n", ap.Name, ap.SourceKind, desc)
				}
			})
		}),
	}
	cmd.Flags().BoolVar(&installed, "installed", false, "only the installed apps")
	cmd.Flags().StringVar(&source, "source", "", "only one source: hf_space, dashboard_selection, local or installed")
	_ = cmd.RegisterFlagCompletionFunc("source", cobra.FixedCompletions(
		[]string{client.SourceHFSpace, client.SourceDashboardSelection, client.SourceLocal, client.SourceInstalled}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (a *app) appsInstall() *cobra.Command {
	var path string
	var noWait bool
	cmd := &cobra.Command{
		Use:   "install {OWNER/SPACE | NAME | --path DIR}",
		Short: "Install an app, showing its progress",
		Long: `Install an app and wait for the end of the install job, with a progress bar
when stdout is a terminal (the log lines otherwise).

  OWNER/SPACE   a Hugging Face Space
  NAME          an app of the daemon's catalogue (reachyctl apps list)
  --path DIR    a folder or archive on the daemon's machine (reachyd; the
                daemon accepts only the paths of its --apps-local-dir)`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.do(func(ctx context.Context, args []string) error {
			var info client.AppInfo
			switch {
			case path != "" && len(args) == 0:
				abs, err := filepath.Abs(path)
				if err != nil {
					return usagef("--path: %v", err)
				}
				info = client.LocalApp(filepath.Base(abs), abs)
			case path != "" || len(args) == 0:
				return usagef("install takes OWNER/SPACE, NAME or --path DIR (one of them)")
			case strings.Contains(args[0], "/"):
				info = client.SpaceApp(args[0])
			default:
				found, err := a.findApp(ctx, args[0])
				if err != nil {
					return err
				}
				info = found
			}
			j, err := a.client.InstallApp(ctx, info)
			if err != nil {
				return err
			}
			if noWait {
				return a.emit(map[string]string{"job_id": j.ID}, func(w io.Writer) { fmt.Fprintf(w, "install queued: job %s\n", j.ID) })
			}
			return a.followJob(ctx, j.ID, "Installing "+info.Name, "Installed "+info.Name)
		}),
	}
	cmd.Flags().StringVar(&path, "path", "", "install from a folder or archive on the daemon's machine")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "print the job id and return")
	return cmd
}

// findApp finds an app of the catalogue by name.
func (a *app) findApp(ctx context.Context, name string) (client.AppInfo, error) {
	apps, err := a.client.Apps(ctx, "")
	if err != nil {
		return client.AppInfo{}, err
	}
	for _, ap := range apps {
		if ap.Name == name && ap.SourceKind != client.SourceInstalled {
			return ap, nil
		}
	}
	return client.AppInfo{}, fmt.Errorf("no app %q in the daemon's catalogue (give OWNER/SPACE to install a Space by its id)", name)
}

// followJob follows a job to its end: a progress bar on a terminal, the
// log lines otherwise, one JSON object at the end with --json.
func (a *app) followJob(ctx context.Context, id, doing, done string) error {
	var bar *progressbar.ProgressBar
	if a.outTTY && !a.json {
		bar = progressbar.NewOptions(100,
			progressbar.OptionSetWriter(a.out),
			progressbar.OptionSetDescription(doing),
			progressbar.OptionSetWidth(30),
			progressbar.OptionEnableColorCodes(a.colorOn()),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionThrottle(50*time.Millisecond),
		)
	}
	info, err := a.client.FollowJob(ctx, id, func(u client.JobUpdate) {
		switch {
		case bar != nil:
			if len(u.Lines) > 0 {
				bar.Describe(doing + ": " + clip(u.Lines[len(u.Lines)-1], 40))
			}
			_ = bar.Set(int(u.Progress * 100))
		case !a.json:
			for _, l := range u.Lines {
				fmt.Fprintln(a.out, l)
			}
		}
	})
	if bar != nil {
		if err == nil {
			bar.Describe(done)
			_ = bar.Finish()
		} else {
			_ = bar.Exit()
		}
		fmt.Fprintln(a.out)
	}
	if info != nil && a.json && info.Finished() {
		if perr := a.printJSON(jobJSON{JobID: id, Command: info.Command, Status: info.Status, Logs: nonNil(info.Logs)}); perr != nil {
			return perr
		}
	}
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func (a *app) appsRemove() *cobra.Command {
	cmd := &cobra.Command{
		Use: "remove NAME", Short: "Remove an installed app", Args: cobra.ExactArgs(1),
		ValidArgsFunction: a.completeInstalled,
		RunE: a.do(func(ctx context.Context, args []string) error {
			j, err := a.client.RemoveApp(ctx, args[0])
			if err != nil {
				return err
			}
			return a.followJob(ctx, j.ID, "Removing "+args[0], "Removed "+args[0])
		}),
	}
	return cmd
}

func (a *app) appsStart() *cobra.Command {
	var noEvict bool
	cmd := &cobra.Command{
		Use: "start NAME", Short: "Start an installed app", Args: cobra.ExactArgs(1),
		ValidArgsFunction: a.completeInstalled,
		RunE: a.do(func(ctx context.Context, args []string) error {
			st, err := a.client.StartApp(ctx, args[0], !noEvict)
			if err != nil {
				return err
			}
			return a.emit(appStatusJSON(st), func(w io.Writer) {
				fmt.Fprintf(w, "%s: %s\n", st.Info.Name, a.paint(stateColor(st.State), st.State))
			})
		}),
	}
	cmd.Flags().BoolVar(&noEvict, "no-evict", false, "refuse rather than end a remote session that holds the robot")
	return cmd
}

func (a *app) appsStop() *cobra.Command {
	return &cobra.Command{
		Use: "stop", Short: "Stop the running app", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			if err := a.client.StopApp(ctx); err != nil {
				return err
			}
			return a.emit(map[string]bool{"stopped": true}, func(w io.Writer) { fmt.Fprintln(w, "app stopped") })
		}),
	}
}

// appJSON is an app's status in --json output: the API's AppStatus, plus
// reachyd's job id and pid when the daemon tells them.
type appJSON struct {
	Info  client.AppInfo `json:"info"`
	State string         `json:"state"`
	Error *string        `json:"error"`
	JobID string         `json:"job_id,omitempty"`
	PID   int            `json:"pid,omitempty"`
}

func appStatusJSON(s *client.AppStatus) *appJSON {
	if s == nil {
		return nil
	}
	if s.Info.Extra == nil {
		s.Info.Extra = map[string]any{}
	}
	return &appJSON{Info: s.Info, State: s.State, Error: s.Error, JobID: s.JobID, PID: s.PID}
}

func (a *app) appsStatus() *cobra.Command {
	return &cobra.Command{
		Use: "status", Short: "Show the running app (null with --json when none)", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			st, err := a.client.CurrentApp(ctx)
			if err != nil {
				return err
			}
			return a.emit(appStatusJSON(st), func(w io.Writer) {
				if st == nil {
					fmt.Fprintln(w, "No app is running.")
					return
				}
				fmt.Fprintf(w, "%s: %s\n", st.Info.Name, a.paint(stateColor(st.State), st.State))
				if st.PID != 0 {
					fmt.Fprintf(w, "pid: %d\n", st.PID)
				}
				if st.Error != nil {
					fmt.Fprintf(w, "error: %s\n", *st.Error)
				}
			})
		}),
	}
}

func (a *app) appsLogs() *cobra.Command {
	var follow bool
	var job string
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the running app's output (-f: follow it until the app ends)",
		Long: `Show the running app's output: reachyd keeps each app run's stdout and stderr
as a job's log. -f follows it until the app ends (or Ctrl-C). --job reads the
log of any job (an install, a finished run) by its id.

With --json: one object {"job_id","command","status","logs"}; with -f, one
JSON object per line: {"line": "..."} for each output line, then
{"job_id","command","status"} at the end.`,
		Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			id := job
			if id == "" {
				var err error
				if id, err = a.client.AppLogJob(ctx); err != nil {
					return err
				}
			}
			if !follow {
				j, err := a.client.JobStatus(ctx, id)
				if err != nil {
					return err
				}
				return a.emit(jobJSON{JobID: id, Command: j.Command, Status: j.Status, Logs: nonNil(j.Logs)}, func(w io.Writer) {
					for _, l := range j.Logs {
						fmt.Fprintln(w, l)
					}
				})
			}
			info, err := a.client.FollowJob(ctx, id, func(u client.JobUpdate) {
				for _, l := range u.Lines {
					if a.json {
						_ = a.printJSON(map[string]string{"line": l})
					} else {
						fmt.Fprintln(a.out, l)
					}
				}
			})
			var je *client.JobError
			if errors.As(err, &je) {
				// An app that exited with an error: its log was shown.
				err = nil
			}
			if err == nil && a.json && info != nil {
				return a.printJSON(map[string]string{"job_id": id, "command": info.Command, "status": info.Status})
			}
			return err
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output until the app ends")
	cmd.Flags().StringVar(&job, "job", "", "read this job's log instead of the running app's")
	return cmd
}
