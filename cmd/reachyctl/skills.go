package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	authcore "reachyd/actors/auth/core"
	"reachyd/client"
	"reachyd/messages"
)

func (a *app) skillsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "skills",
		Short: "Skills: list, run and cancel missions, manage skill files (needs an API key)",
		Long: `The skills API (pymirokai's RestAPI): every command needs an API key, from
$REACHYD_API_KEY, --api-key-file or --api-key; create one on the robot with
'reachyd keys create' (or 'reachyctl keys create' on the same machine).
Uploading, enabling, disabling and removing skill files need the ADMIN level.`,
	}
	list := &cobra.Command{
		Use: "list", Short: "List the skills the daemon knows (built-in and from files)", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			sk, err := a.client.Skills(ctx)
			if err != nil {
				return err
			}
			if sk == nil {
				sk = map[string]json.RawMessage{}
			}
			return a.emit(sk, func(w io.Writer) {
				names := make([]string, 0, len(sk))
				for n := range sk {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					var e struct {
						Parameters []struct {
							Name string `json:"name"`
						} `json:"parameters"`
						Filename string `json:"filename"`
					}
					_ = json.Unmarshal(sk[n], &e)
					params := make([]string, 0, len(e.Parameters))
					for _, p := range e.Parameters {
						params = append(params, p.Name)
					}
					from := "built-in"
					if e.Filename != "" {
						from = e.Filename
					}
					fmt.Fprintf(w, "%-28s %-16s %s\n", n, from, strings.Join(params, " "))
				}
			})
		}),
	}
	files := &cobra.Command{
		Use: "files", Short: "List the skill files", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			fs, err := a.client.SkillFiles(ctx)
			if err != nil {
				return err
			}
			if fs == nil {
				fs = []client.SkillFile{}
			}
			return a.emit(fs, func(w io.Writer) {
				if len(fs) == 0 {
					fmt.Fprintln(w, "No skill files.")
				}
				for _, f := range fs {
					state := "enabled"
					if !f.Enabled {
						state = "disabled"
					}
					fmt.Fprintf(w, "%-32s %-9s %d bytes\n", f.Name, state, f.Size)
				}
			})
		}),
	}
	upload := &cobra.Command{
		Use: "upload FILE.py", Short: "Upload a skill file (enabled)", Args: cobra.ExactArgs(1),
		RunE: a.do(func(ctx context.Context, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			r, err := a.client.UploadSkill(ctx, filepath.Base(args[0]), f)
			if err != nil {
				return err
			}
			return a.emitFileResult(r)
		}),
	}
	fileOp := func(use, short string, op func(ctx context.Context, name string) (client.SkillFileResult, error)) *cobra.Command {
		return &cobra.Command{
			Use: use + " NAME", Short: short, Args: cobra.ExactArgs(1),
			RunE: a.do(func(ctx context.Context, args []string) error {
				r, err := op(ctx, args[0])
				if err != nil {
					return err
				}
				return a.emitFileResult(r)
			}),
		}
	}
	enable := fileOp("enable", "Enable a skill file", func(ctx context.Context, n string) (client.SkillFileResult, error) {
		return a.client.EnableSkill(ctx, n, true)
	})
	disable := fileOp("disable", "Disable a skill file (kept, not loaded)", func(ctx context.Context, n string) (client.SkillFileResult, error) {
		return a.client.EnableSkill(ctx, n, false)
	})
	remove := fileOp("remove", "Delete a skill file", a.removeSkill)

	var noWait bool
	runCmd := &cobra.Command{
		Use:   "run SKILL [PARAM=VALUE...]",
		Short: "Run a skill (a mission) and wait for its result",
		Long: `Run a skill with keyword parameters and wait for its end. A VALUE that is
valid JSON is sent as such (0.3, true, "text", [1,2]), anything else as a
string. Exit code 1 if the skill is refused, fails or is cancelled.`,
		Example: `  reachyctl skills run wake_up
  reachyctl skills run move_antennas left=0.4 right=-0.4 duration=0.5`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			params := map[string]any{}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usagef("parameter %q is not NAME=VALUE", kv)
				}
				var x any
				if err := json.Unmarshal([]byte(v), &x); err != nil {
					x = v
				}
				params[k] = x
			}
			a.started = true
			return a.runSkill(c.Context(), args[0], params, noWait)
		},
	}
	runCmd.Flags().BoolVar(&noWait, "no-wait", false, "print the mission id and return")
	missions := &cobra.Command{
		Use: "missions", Short: "List the running missions", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			ms, err := a.client.Missions(ctx)
			if err != nil {
				return err
			}
			if ms == nil {
				ms = []client.Mission{}
			}
			return a.emit(ms, func(w io.Writer) {
				if len(ms) == 0 {
					fmt.Fprintln(w, "No missions run.")
				}
				for _, m := range ms {
					fmt.Fprintf(w, "%-20s %-24s started=%v auto_start=%v\n", m.ID, m.Skill, m.Started, m.AutoStart)
				}
			})
		}),
	}
	var wait bool
	cancel := &cobra.Command{
		Use: "cancel MISSION_ID", Short: "Cancel a mission", Args: cobra.ExactArgs(1),
		RunE: a.do(func(ctx context.Context, args []string) error {
			ok, msg, err := a.client.CancelMission(ctx, args[0], wait)
			if err != nil {
				return err
			}
			if perr := a.emit(map[string]any{"cancelled": ok, "msg": msg}, func(w io.Writer) {
				if ok {
					fmt.Fprintln(w, "cancelled")
				}
			}); perr != nil {
				return perr
			}
			if !ok {
				return fmt.Errorf("not cancelled: %s", msg)
			}
			return nil
		}),
	}
	cancel.Flags().BoolVar(&wait, "wait", false, "wait until the mission has ended")
	cmd.AddCommand(list, files, upload, enable, disable, remove, runCmd, missions, cancel)
	return cmd
}

func (a *app) removeSkill(ctx context.Context, n string) (client.SkillFileResult, error) {
	return a.client.RemoveSkill(ctx, n)
}

func (a *app) emitFileResult(r client.SkillFileResult) error {
	return a.emit(r, func(w io.Writer) { fmt.Fprintf(w, "%s: %s\n", r.SkillName, r.Status) })
}

// runSkill calls a skill and, unless noWait, waits for its result.
func (a *app) runSkill(ctx context.Context, name string, params map[string]any, noWait bool) error {
	id, err := a.client.CallSkill(ctx, name, params)
	if err != nil {
		return err
	}
	if noWait {
		return a.emit(map[string]string{"mission_id": id}, func(w io.Writer) { fmt.Fprintln(w, id) })
	}
	r, err := a.client.WaitMission(ctx, id)
	if err != nil {
		return err
	}
	if a.json {
		if err := a.printJSON(r); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.out, "%s: %s\n", name, a.paint(stateColor(r.Status), r.Status))
		if len(r.Value) > 0 && string(r.Value) != "null" {
			fmt.Fprintf(a.out, "value: %s\n", r.Value)
		}
	}
	switch {
	case !r.Awaited:
		return errors.New("mission not awaited: " + r.Msg)
	case r.Status == "ERROR":
		return errors.New("skill failed: " + r.Exception)
	case r.Status == "CANCELLED":
		return errors.New("mission cancelled")
	}
	return nil
}

// ---- keys ------------------------------------------------------------------------

// defaultDataDir is reachyd's default --data-dir.
func (a *app) defaultDataDir() string {
	if d := a.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "reachyd")
	}
	if h := a.getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "reachyd")
	}
	return "reachyd-data"
}

// keyJSON is a key in --json output (never its hash).
type keyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Level     string     `json:"level"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used"`
	RevokedAt *time.Time `json:"revoked_at"`
	Key       string     `json:"key,omitempty"` // only from create
}

func toKeyJSON(k authcore.Key) keyJSON {
	return keyJSON{ID: k.ID, Name: k.Name, Level: k.Level.String(), CreatedAt: k.CreatedAt, LastUsed: k.LastUsed, RevokedAt: k.RevokedAt}
}

func (a *app) keysCmd() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "API keys of the skills API: exchange one for a token; create, list, revoke (on the daemon's machine)",
		Long: `API keys are exchanged for session tokens (JWT) by the skills API.

  token              exchange the key (REACHYD_API_KEY, --api-key-file) for a
                     token over the API: checks the key, prints its session
  create, list,      manage the key store of a reachyd on this machine, as
  revoke             'reachyd keys' does (files in <data-dir>/auth; a running
                     daemon picks up changes within seconds)`,
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "", "reachyd's --data-dir (default $XDG_DATA_HOME/reachyd or ~/.local/share/reachyd)")
	store := func() (*authcore.KeyStore, error) {
		if dataDir == "" {
			dataDir = a.defaultDataDir()
		}
		return authcore.OpenKeyStore(authcore.StoreDir(dataDir))
	}
	token := &cobra.Command{
		Use: "token", Short: "Exchange the API key for a session token", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			if a.apiKey == "" {
				return client.ErrNoAPIKey
			}
			s, err := a.client.Login(ctx, a.apiKey)
			if err != nil {
				return err
			}
			return a.emit(s, func(w io.Writer) {
				fmt.Fprintf(w, "client id:    %s\naccess level: %s\ntoken:        %s\n", s.ClientID, s.AccessLevel, s.Token)
			})
		}),
	}
	var name, level string
	create := &cobra.Command{
		Use: "create --name NAME [--level ENCHANTER|ADMIN|USER]", Short: "Create a key and print it (shown once)", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			if err := authcore.ValidateName(name); err != nil {
				return usageError{err}
			}
			lv, err := messages.ParseAccessLevel(level)
			if err != nil {
				return usageError{err}
			}
			a.started = true
			ks, err := store()
			if err != nil {
				return err
			}
			plain, k, err := ks.Create(name, lv, time.Now())
			if err != nil {
				return err
			}
			out := toKeyJSON(k)
			out.Key = plain
			return a.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "Created key %s %q with level %s:\n\n%s\n\nIt cannot be shown again: keep it somewhere safe.\n", k.ID, k.Name, k.Level, plain)
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "a label for the key (1-64 printable characters)")
	create.Flags().StringVar(&level, "level", "USER", "access level: ENCHANTER, ADMIN or USER")
	_ = create.RegisterFlagCompletionFunc("level", cobra.FixedCompletions([]string{"ENCHANTER", "ADMIN", "USER"}, cobra.ShellCompDirectiveNoFileComp))
	list := &cobra.Command{
		Use: "list", Short: "List the keys", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			ks, err := store()
			if err != nil {
				return err
			}
			keys := ks.List()
			out := make([]keyJSON, 0, len(keys))
			for _, k := range keys {
				out = append(out, toKeyJSON(k))
			}
			return a.emit(out, func(w io.Writer) {
				if len(out) == 0 {
					fmt.Fprintln(w, "No API keys.")
					return
				}
				fmt.Fprintf(w, "%-10s %-20s %-10s %-21s %s\n", "ID", "NAME", "LEVEL", "CREATED", "REVOKED")
				for _, k := range out {
					rev := "-"
					if k.RevokedAt != nil {
						rev = k.RevokedAt.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%-10s %-20s %-10s %-21s %s\n", k.ID, k.Name, k.Level, k.CreatedAt.UTC().Format(time.RFC3339), rev)
				}
			})
		}),
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke a key by id (or a unique prefix of 4 digits or more)", Args: cobra.ExactArgs(1),
		RunE: a.do(func(ctx context.Context, args []string) error {
			ks, err := store()
			if err != nil {
				return err
			}
			k, err := ks.Resolve(args[0])
			if err != nil {
				return err
			}
			already := false
			if err := ks.Revoke(k.ID, time.Now()); errors.Is(err, authcore.ErrAlreadyRevoked) {
				already = true
			} else if err != nil {
				return err
			}
			return a.emit(map[string]any{"id": k.ID, "name": k.Name, "revoked": true, "already_revoked": already}, func(w io.Writer) {
				if already {
					fmt.Fprintf(w, "Key %s %q was already revoked.\n", k.ID, k.Name)
				} else {
					fmt.Fprintf(w, "Revoked key %s %q.\n", k.ID, k.Name)
				}
			})
		}),
	}
	cmd.AddCommand(token, create, list, revoke)
	return cmd
}
