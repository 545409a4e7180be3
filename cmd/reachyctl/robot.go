package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"reachyd/client"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the daemon's status",
		Long:  "Show the daemon's status. --json prints the daemon's GET /api/daemon/status object unchanged.",
		Args:  cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			st, err := a.client.Status(ctx)
			if err != nil {
				return err
			}
			if a.json {
				_, err := fmt.Fprintln(a.out, string(st.Raw))
				return err
			}
			w := a.out
			fmt.Fprintf(w, "robot:    %s\n", st.RobotName)
			fmt.Fprintf(w, "state:    %s\n", a.paint(stateColor(st.State), st.State))
			if st.Error != nil {
				fmt.Fprintf(w, "error:    %s\n", a.paint("red", *st.Error))
			}
			if st.BackendStatus != nil {
				fmt.Fprintf(w, "motors:   %s\n", st.BackendStatus.MotorControlMode)
			}
			kind := "robot"
			switch {
			case st.SimulationEnabled != nil && *st.SimulationEnabled:
				kind = "simulation"
			case st.MockupSimEnabled != nil && *st.MockupSimEnabled:
				kind = "mockup simulation"
			}
			if st.WirelessVersion {
				kind += " (wireless)"
			}
			fmt.Fprintf(w, "backend:  %s\n", kind)
			fmt.Fprintf(w, "media:    %s\n", map[bool]string{true: "off", false: "on"}[st.NoMedia])
			fmt.Fprintf(w, "version:  %s\n", st.Version)
			if st.WlanIP != nil {
				fmt.Fprintf(w, "wlan ip:  %s\n", *st.WlanIP)
			}
			return nil
		}),
	}
}

// stateJSON is `state --json`.
type stateJSON struct {
	ControlMode string       `json:"control_mode"`
	HeadPose    *client.Pose `json:"head_pose"`
	BodyYaw     *float64     `json:"body_yaw"`
	Antennas    *[2]float64  `json:"antennas"`
	HeadJoints  []float64    `json:"head_joints"`
}

func (a *app) stateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "state",
		Short: "Show the robot's present head pose, body yaw and antennas",
		Args:  cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			s, err := a.client.State(ctx)
			if err != nil {
				return err
			}
			out := stateJSON{ControlMode: s.ControlMode, HeadPose: s.HeadPose, BodyYaw: s.BodyYaw, Antennas: s.Antennas, HeadJoints: s.HeadJoints}
			return a.emit(out, func(w io.Writer) {
				fmt.Fprintf(w, "motors:    %s\n", s.ControlMode)
				if p := s.HeadPose; p != nil {
					fmt.Fprintf(w, "head:      x=%.4f y=%.4f z=%.4f m  roll=%.4f pitch=%.4f yaw=%.4f rad\n", p.X, p.Y, p.Z, p.Roll, p.Pitch, p.Yaw)
				}
				if s.BodyYaw != nil {
					fmt.Fprintf(w, "body yaw:  %.4f rad\n", *s.BodyYaw)
				}
				if s.Antennas != nil {
					fmt.Fprintf(w, "antennas:  right=%.4f left=%.4f rad\n", s.Antennas[0], s.Antennas[1])
				}
			})
		}),
	}
}

// jobJSON is the --json output of a command that ran a job.
type jobJSON struct {
	JobID   string   `json:"job_id"`
	Command string   `json:"command"`
	Status  string   `json:"status"`
	Logs    []string `json:"logs"`
}

func (a *app) daemonCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "daemon", Short: "Start, stop or restart the robot backend (the daemon process keeps running)"}
	var wake, sleep bool
	start := &cobra.Command{
		Use: "start", Short: "Start the robot backend", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			return a.daemonJob(ctx, func(ctx context.Context) (client.Job, error) { return a.client.StartDaemon(ctx, wake) })
		}),
	}
	start.Flags().BoolVar(&wake, "wake-up", false, "play the wake-up sequence once started")
	stop := &cobra.Command{
		Use: "stop", Short: "Stop the robot backend", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			return a.daemonJob(ctx, func(ctx context.Context) (client.Job, error) { return a.client.StopDaemon(ctx, sleep) })
		}),
	}
	stop.Flags().BoolVar(&sleep, "sleep", false, "play the go-to-sleep sequence first")
	restart := &cobra.Command{
		Use: "restart", Short: "Restart the robot backend", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			return a.daemonJob(ctx, a.client.RestartDaemon)
		}),
	}
	cmd.AddCommand(start, stop, restart)
	return cmd
}

// daemonJob runs a daemon lifecycle job and waits for its end.
func (a *app) daemonJob(ctx context.Context, start func(context.Context) (client.Job, error)) error {
	j, err := start(ctx)
	if err != nil {
		return err
	}
	info, err := a.client.WaitJob(ctx, j.ID)
	if info != nil && (err == nil || info.Finished()) {
		if a.json {
			if perr := a.printJSON(jobJSON{JobID: j.ID, Command: info.Command, Status: info.Status, Logs: info.Logs}); perr != nil {
				return perr
			}
		} else if err == nil {
			fmt.Fprintf(a.out, "%s: %s\n", info.Command, a.paint(stateColor(info.Status), info.Status))
		}
	}
	return err
}

// ---- moves ------------------------------------------------------------------------

// moveJSON is the --json output of a move command.
type moveJSON struct {
	UUID    string `json:"uuid"`
	Result  string `json:"result,omitempty"` // completed, failed, cancelled; absent with --no-wait
	Details string `json:"details,omitempty"`
}

// runMove starts a move and, unless noWait, waits for its end.
func (a *app) runMove(ctx context.Context, noWait bool, what string, start func(context.Context) (client.Move, error)) error {
	if noWait {
		m, err := start(ctx)
		if err != nil {
			return err
		}
		return a.emit(moveJSON{UUID: m.UUID}, func(w io.Writer) { fmt.Fprintf(w, "%s started (move %s)\n", what, m.UUID) })
	}
	m, err := a.client.RunMove(ctx, start)
	if m.UUID == "" {
		return err
	}
	out := moveJSON{UUID: m.UUID, Result: "completed"}
	var me *client.MoveError
	switch {
	case err == nil:
	case asMoveError(err, &me):
		out.Result = strings.TrimPrefix(me.Event.Type, "move_")
		out.Details = me.Event.Details
	default:
		return err
	}
	if a.json {
		if perr := a.printJSON(out); perr != nil {
			return perr
		}
	} else if err == nil {
		fmt.Fprintf(a.out, "%s done\n", what)
	}
	return err
}

func asMoveError(err error, me **client.MoveError) bool {
	e, ok := err.(*client.MoveError)
	if ok {
		*me = e
	}
	return ok
}

func (a *app) wakeCmd() *cobra.Command {
	var noWait, noEnable bool
	cmd := &cobra.Command{
		Use:   "wake",
		Short: "Turn the motors on if they are off, then play the wake-up sequence (and wait for its end)",
		Long: `Play the wake-up sequence and wait for its end. Motors that are off (after
'reachyctl sleep', which turns them off) are turned on first, as the desktop
app's wake-up button does; --no-enable leaves them as they are (the sequence
then moves nothing).`,
		Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			if !noEnable {
				m, err := a.client.Motors(ctx)
				if err != nil {
					return err
				}
				if m.Mode == client.ModeDisabled {
					if _, err := a.client.SetMotorMode(ctx, client.ModeEnabled); err != nil {
						return err
					}
					if !a.json {
						fmt.Fprintln(a.out, "motors enabled")
					}
				}
			}
			return a.runMove(ctx, noWait, "wake up", a.client.WakeUp)
		}),
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the move has started")
	cmd.Flags().BoolVar(&noEnable, "no-enable", false, "do not turn disabled motors on first")
	return cmd
}

// warnIfLimp warns on stderr when the motors are off: a move then
// "completes" without moving anything.
func (a *app) warnIfLimp(ctx context.Context) {
	if m, err := a.client.Motors(ctx); err == nil && m.Mode == client.ModeDisabled {
		fmt.Fprintln(a.err, "reachyctl: warning: the motors are off, the robot will not move (reachyctl motors enable)")
	}
}

func (a *app) sleepCmd() *cobra.Command {
	var noWait bool
	cmd := &cobra.Command{
		Use: "sleep", Short: "Play the go-to-sleep sequence (and wait for its end); the daemon then turns the motors off", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error {
			return a.runMove(ctx, noWait, "go to sleep", a.client.GotoSleep)
		}),
	}
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the move has started")
	return cmd
}

func (a *app) gotoCmd() *cobra.Command {
	var (
		x, y, z, roll, pitch, yaw float64
		antennas                  []float64
		bodyYaw, duration         float64
		interp                    string
		degrees, noWait           bool
	)
	cmd := &cobra.Command{
		Use:   "goto",
		Short: "Move the head, antennas and body smoothly to a target",
		Long: `Move the head, antennas and body to a target in --duration seconds.

Units are the API's: x, y, z in meters, angles (roll, pitch, yaw, antennas,
body yaw) in radians, or in degrees with --degrees. Any of --x --y --z --roll
--pitch --yaw sends a whole head pose, the others being 0 (the head's neutral
pose). What is not given keeps its present value. --antennas takes the right
then the left antenna.`,
		Example: `  reachyctl goto --yaw 0.4 --duration 1.5
  reachyctl goto --degrees --pitch -10 --antennas 30,-30 --interpolation cartoon
  reachyctl goto --body-yaw 0.5`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.Float64Var(&x, "x", 0, "head x (m)")
	f.Float64Var(&y, "y", 0, "head y (m)")
	f.Float64Var(&z, "z", 0, "head z (m)")
	f.Float64Var(&roll, "roll", 0, "head roll (rad)")
	f.Float64Var(&pitch, "pitch", 0, "head pitch (rad)")
	f.Float64Var(&yaw, "yaw", 0, "head yaw (rad)")
	f.Float64SliceVar(&antennas, "antennas", nil, "right,left antenna angles (rad)")
	f.Float64Var(&bodyYaw, "body-yaw", 0, "body yaw (rad)")
	f.Float64Var(&duration, "duration", 1, "duration of the move (s)")
	f.StringVar(&interp, "interpolation", client.MinJerk, "curve: "+strings.Join(client.Interpolations, ", "))
	f.BoolVar(&degrees, "degrees", false, "angles are in degrees")
	f.BoolVar(&noWait, "no-wait", false, "return once the move has started")
	_ = cmd.RegisterFlagCompletionFunc("interpolation", cobra.FixedCompletions(client.Interpolations, cobra.ShellCompDirectiveNoFileComp))
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if !slices.Contains(client.Interpolations, interp) {
			return usagef("--interpolation must be one of %s, got %q", strings.Join(client.Interpolations, ", "), interp)
		}
		if math.IsNaN(duration) || math.IsInf(duration, 0) || duration < 0 {
			return usagef("--duration must be a number of seconds >= 0")
		}
		angle := func(v float64) float64 {
			if degrees {
				return v * math.Pi / 180
			}
			return v
		}
		g := client.Goto{Duration: duration, Interpolation: interp}
		fs := c.Flags()
		for _, n := range []string{"x", "y", "z", "roll", "pitch", "yaw"} {
			if fs.Changed(n) {
				g.HeadPose = &client.Pose{X: x, Y: y, Z: z, Roll: angle(roll), Pitch: angle(pitch), Yaw: angle(yaw)}
				break
			}
		}
		if fs.Changed("antennas") {
			if len(antennas) != 2 {
				return usagef("--antennas takes two angles, right,left; got %d", len(antennas))
			}
			g.Antennas = &[2]float64{angle(antennas[0]), angle(antennas[1])}
		}
		if fs.Changed("body-yaw") {
			v := angle(bodyYaw)
			g.BodyYaw = &v
		}
		if g.HeadPose == nil && g.Antennas == nil && g.BodyYaw == nil {
			return usagef("goto needs a target: --x/--y/--z/--roll/--pitch/--yaw, --antennas or --body-yaw")
		}
		a.started = true
		a.warnIfLimp(c.Context())
		return a.runMove(c.Context(), noWait, "goto", func(ctx context.Context) (client.Move, error) { return a.client.Goto(ctx, g) })
	}
	return cmd
}

// ---- motors -----------------------------------------------------------------------

func (a *app) motorsCmd() *cobra.Command {
	status := &cobra.Command{
		Use: "status", Short: "Show the motor control mode (and each motor, with reachyd)", Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error { return a.motorStatus(ctx) }),
	}
	cmd := &cobra.Command{
		Use:   "motors",
		Short: "Show or set the motor control mode",
		Long: `Show the motor control mode (the default), or set it:
  enable   motors hold their position (torque on)
  disable  motors are limp (torque off)
  gravity  gravity compensation: the head can be moved by hand and stays`,
		Args: cobra.NoArgs,
		RunE: a.do(func(ctx context.Context, _ []string) error { return a.motorStatus(ctx) }),
	}
	cmd.AddCommand(status)
	for _, m := range []struct{ use, mode, short string }{
		{"enable", client.ModeEnabled, "Turn the motors on (they hold their position)"},
		{"disable", client.ModeDisabled, "Turn the motors off (limp)"},
		{"gravity", client.ModeGravityCompensation, "Gravity compensation (move the head by hand)"},
	} {
		mode := m.mode
		cmd.AddCommand(&cobra.Command{
			Use: m.use, Short: m.short, Args: cobra.NoArgs,
			RunE: a.do(func(ctx context.Context, _ []string) error {
				text, err := a.client.SetMotorMode(ctx, mode)
				if err != nil {
					return err
				}
				return a.emit(map[string]string{"mode": mode, "status": text}, func(w io.Writer) {
					fmt.Fprintf(w, "motors: %s\n", a.paint(stateColor(mode), mode))
				})
			}),
		})
	}
	return cmd
}

func (a *app) motorStatus(ctx context.Context) error {
	m, err := a.client.Motors(ctx)
	if err != nil {
		return err
	}
	if a.json {
		if m.Motors == nil {
			m.Motors = []client.MotorState{}
		}
		return a.printJSON(m)
	}
	fmt.Fprintf(a.out, "mode: %s\n", a.paint(stateColor(m.Mode), m.Mode))
	for _, s := range m.Motors {
		pos := "-"
		if s.PresentPosition != nil {
			pos = fmt.Sprintf("%.3f rad", *s.PresentPosition)
		}
		health := "ok"
		if !s.Answering {
			health = a.paint("red", "not answering")
		} else if len(s.HardwareError) > 0 {
			health = a.paint("red", strings.Join(s.HardwareError, ","))
		}
		torque := "off"
		if s.Torque {
			torque = "on"
		}
		fmt.Fprintf(a.out, "  %-14s id %-3d torque %-3s %-14s %s\n", s.Name, s.ID, torque, pos, health)
	}
	return nil
}
