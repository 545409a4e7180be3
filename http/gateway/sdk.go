package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"reachyd/http/validate"
	"reachyd/hw"
	"reachyd/hw/geom"
	"reachyd/messages"
)

// errSkip marks a frame that does not validate against the command schema:
// the reference drops those silently (with a log line).
var errSkip = errors.New("invalid command frame")

// cmd reads one command's fields with the pydantic semantics of the
// reference's protocol models. Any schema error makes the frame skipped.
type cmd struct {
	get  func(string) (any, bool)
	errs validate.Errors
}

func (c *cmd) loc(name string) []any { return []any{name} }

// present reports whether a field is present and not null.
func (c *cmd) present(name string) (any, bool) {
	v, ok := c.get(name)
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (c *cmd) required(name string) any {
	v, ok := c.get(name)
	if !ok {
		validate.Missing(c.loc(name), nil, &c.errs)
		return nil
	}
	return v
}

func (c *cmd) float(name string, def float64) float64 {
	v, ok := c.get(name)
	if !ok {
		return def
	}
	f, _ := validate.Float(v, c.loc(name), &c.errs)
	return f
}

func (c *cmd) reqFloat(name string) float64 {
	f, _ := validate.Float(c.required(name), c.loc(name), &c.errs)
	return f
}

func (c *cmd) optFloat(name string) *float64 {
	v, ok := c.present(name)
	if !ok {
		return nil
	}
	f, good := validate.Float(v, c.loc(name), &c.errs)
	if !good {
		return nil
	}
	return &f
}

func (c *cmd) boolean(name string, def *bool) bool {
	v, ok := c.get(name)
	if !ok {
		if def != nil {
			return *def
		}
		validate.Missing(c.loc(name), nil, &c.errs)
		return false
	}
	b, _ := validate.Bool(v, c.loc(name), &c.errs)
	return b
}

func (c *cmd) str(name string, required bool, def string) string {
	v, ok := c.get(name)
	if !ok {
		if required {
			validate.Missing(c.loc(name), nil, &c.errs)
		}
		return def
	}
	s, _ := validate.String(v, c.loc(name), &c.errs)
	return s
}

// floats validates list[float] (any length) or, if optional, list|None.
func (c *cmd) floats(name string, optional bool) ([]float64, bool) {
	v, ok := c.get(name)
	if !ok || v == nil {
		if !optional {
			validate.Missing(c.loc(name), nil, &c.errs)
		}
		return nil, false
	}
	list, isList := v.([]any)
	if !isList {
		c.errs = append(c.errs, validate.Error{Type: "list_type", Loc: c.loc(name), Msg: "Input should be a valid list", Input: v})
		return nil, false
	}
	out := make([]float64, len(list))
	for i, x := range list {
		out[i], _ = validate.Float(x, []any{name, i}, &c.errs)
	}
	return out, true
}

// dispatchError is an error raised while executing a valid command: the
// reference lets it escape its receive loop, which ends the connection.
type dispatchError struct{ msg string }

func (e *dispatchError) Error() string { return e.msg }

func dispatchErr(format string, args ...any) error {
	return &dispatchError{fmt.Sprintf(format, args...)}
}

func head16(f []float64, what string) (*geom.Mat4, error) {
	if f == nil {
		return nil, nil
	}
	if len(f) != 16 {
		return nil, dispatchErr("%s must have 16 numbers (a row-major 4x4 matrix), got %d", what, len(f))
	}
	var a [16]float64
	copy(a[:], f)
	m := geom.FromFlat(a)
	if !validate.PoseIsRigid(m, 1e-2) {
		return nil, dispatchErr("%s is not a rigid transform", what)
	}
	return &m, nil
}

func pair(f []float64, what string) (*[2]float64, error) {
	if f == nil {
		return nil, nil
	}
	if len(f) != 2 {
		return nil, dispatchErr("%s must have 2 numbers, got %d", what, len(f))
	}
	return &[2]float64{f[0], f[1]}, nil
}

// sdkReadLoop reads the client's commands until it leaves or a command
// fails while dispatching.
func (g *Gateway) sdkReadLoop(w *wsConn) {
	for {
		typ, data, err := w.c.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		err = g.sdkCommand(data)
		var de *dispatchError
		switch {
		case err == nil:
		case errors.As(err, &de):
			// As the reference: the error ends this client's connection.
			g.badInput.Log(g.log, slog.LevelWarn, "WS client error", "err", de.msg)
			w.out.Close(de.msg)
			w.closeFrame(websocket.CloseInternalServerErr, truncate(de.msg, 120))
			return
		default:
			g.badInput.Log(g.log, slog.LevelDebug, "WS invalid message", "err", err)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// sdkCommand validates and dispatches one frame.
func (g *Gateway) sdkCommand(data []byte) error {
	v, errs := validate.DecodeBody(data)
	if errs != nil {
		return errSkip
	}
	get, ok := validate.ModelObject(v, nil, &errs)
	if !ok {
		return errSkip
	}
	tv, _ := get("type")
	typ, _ := tv.(string)
	c := &cmd{get: get}
	h, ok := sdkCommands[typ]
	if !ok {
		return fmt.Errorf("%w: unknown type %q", errSkip, typ)
	}
	act, err := h(g, c)
	if len(c.errs) > 0 {
		return fmt.Errorf("%w: %s: %s", errSkip, typ, c.errs.Body())
	}
	if err != nil {
		return err
	}
	if act != nil {
		act()
	}
	return nil
}

// sdkHandler validates a command's fields and returns the action to run
// (nil for commands that only answer on peer-aware transports).
type sdkHandler func(g *Gateway, c *cmd) (func(), error)

func (g *Gateway) tellMoves(m any) func()  { return func() { g.sys.Kit.Tell(g.sys.Moves, m) } }
func (g *Gateway) tellDaemon(m any) func() { return func() { g.sys.Kit.Tell(g.sys.Daemon, m) } }

// askMotorbus runs a motor mode or torque change to its end before the next
// frame is read, as the reference's receive loop does: motorbus has pinned
// the goals (and told moves) when it answers, so a target sent right after
// an enable is applied after the pin and wins. Errors have no reply on this
// transport (the reference's would be WebRTC-only); they are logged.
func (g *Gateway) askMotorbus(m any) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
		defer cancel()
		if _, err := g.sys.Kit.AskAny(ctx, g.sys.Motorbus, m); err != nil {
			g.log.Info("WS motor command refused", "command", fmt.Sprintf("%T", m), "err", err)
		}
	}
}

// replyOnly are commands whose only effect is a reply, which /ws/sdk never
// sends (the reference's send_response is a no-op there), or that need a
// WebRTC peer.
func replyOnly(*Gateway, *cmd) (func(), error) { return nil, nil }

var sdkCommands map[string]sdkHandler

func init() {
	sdkCommands = map[string]sdkHandler{
		"set_target": func(g *Gateway, c *cmd) (func(), error) {
			f, _ := c.floats("head", false)
			if len(c.errs) > 0 {
				return nil, nil
			}
			h, err := head16(f, "head")
			if err != nil {
				return nil, err
			}
			return g.tellMoves(&messages.SetTargets{Head: h}), nil
		},
		"set_head_joints": func(g *Gateway, c *cmd) (func(), error) {
			f, _ := c.floats("joints", false)
			if len(c.errs) > 0 {
				return nil, nil
			}
			if len(f) != 7 {
				return nil, dispatchErr("joints must have 7 numbers, got %d", len(f))
			}
			var j [7]float64
			copy(j[:], f)
			return g.tellMoves(&messages.SetHeadJoints{Joints: j}), nil
		},
		"set_body_yaw": func(g *Gateway, c *cmd) (func(), error) {
			y := c.reqFloat("body_yaw")
			return g.tellMoves(&messages.SetTargets{BodyYaw: &y}), nil
		},
		"set_antennas": func(g *Gateway, c *cmd) (func(), error) {
			f, _ := c.floats("antennas", false)
			if len(c.errs) > 0 {
				return nil, nil
			}
			a, err := pair(f, "antennas")
			if err != nil {
				return nil, err
			}
			return g.tellMoves(&messages.SetTargets{Antennas: a}), nil
		},
		"set_full_target": func(g *Gateway, c *cmd) (func(), error) {
			hf, _ := c.floats("head", true)
			af, _ := c.floats("antennas", true)
			y := c.optFloat("body_yaw")
			if len(c.errs) > 0 {
				return nil, nil
			}
			h, err := head16(hf, "head")
			if err != nil {
				return nil, err
			}
			a, err := pair(af, "antennas")
			if err != nil {
				return nil, err
			}
			return g.tellMoves(&messages.SetTargets{Head: h, Antennas: a, BodyYaw: y}), nil
		},
		"goto_target": func(g *Gateway, c *cmd) (func(), error) {
			hf, _ := c.floats("head", true)
			af, _ := c.floats("antennas", true)
			d := c.float("duration", 0.5)
			y := c.optFloat("body_yaw")
			if len(c.errs) > 0 {
				return nil, nil
			}
			return g.gotoFromSDK(hf, af, d, y, "minjerk", "", messages.OriginCommand)
		},
		"wake_up":    sequence(messages.MoveWakeUp),
		"goto_sleep": sequence(messages.MoveGotoSleep),
		"play_sound": func(g *Gateway, c *cmd) (func(), error) {
			f := c.str("file", true, "")
			return func() { g.log.Info("play_sound: no audio output in this daemon", "file", f) }, nil
		},
		"play_recorded_move": func(g *Gateway, c *cmd) (func(), error) {
			name := c.str("move_name", true, "")
			ds := defaultDataset
			if v, ok := c.present("dataset_name"); ok {
				ds, _ = validate.String(v, c.loc("dataset_name"), &c.errs)
			}
			init := c.float("initial_goto_duration", 0)
			return g.tellMoves(&messages.StartMove{ID: newID(), Kind: messages.MoveRecorded, Origin: messages.OriginCommand,
				Dataset: ds, Move: name, InitialGoto: init}), nil
		},
		"preload_dataset": func(g *Gateway, c *cmd) (func(), error) {
			c.str("dataset_name", true, "")
			// Datasets are read from disk (the datasets folder and the
			// Hugging Face cache); reachyd never downloads, and the reply
			// exists only on WebRTC.
			return nil, nil
		},
		"set_motor_mode": func(g *Gateway, c *cmd) (func(), error) {
			s := c.str("mode", true, "")
			if len(c.errs) > 0 {
				return nil, nil
			}
			m, ok := messages.ParseMotorMode(s)
			if !ok {
				return nil, dispatchErr("'%s' is not a valid MotorControlMode", s)
			}
			return g.askMotorbus(&messages.SetMotorMode{Mode: m}), nil
		},
		"set_torque": func(g *Gateway, c *cmd) (func(), error) {
			on := c.boolean("on", nil)
			var ids []string
			if v, ok := c.present("ids"); ok {
				list, isList := v.([]any)
				if !isList {
					c.errs = append(c.errs, validate.Error{Type: "list_type", Loc: c.loc("ids"), Msg: "Input should be a valid list", Input: v})
					return nil, nil
				}
				ids = make([]string, 0, len(list))
				for i, x := range list {
					s, _ := validate.String(x, []any{"ids", i}, &c.errs)
					ids = append(ids, s)
				}
			}
			if len(c.errs) > 0 {
				return nil, nil
			}
			if ids != nil {
				if _, err := hw.MaskOf(ids); err != nil {
					return nil, dispatchErr("%v", err)
				}
			}
			return g.askMotorbus(&messages.SetTorque{Names: ids, On: on}), nil
		},
		"get_motor_mode": replyOnly,
		"set_gravity_compensation": func(g *Gateway, c *cmd) (func(), error) {
			on := c.boolean("enabled", nil)
			m := messages.ModeEnabled
			if on {
				m = messages.ModeGravityCompensation
			}
			return g.askMotorbus(&messages.SetMotorMode{Mode: m}), nil
		},
		"set_automatic_body_yaw": func(g *Gateway, c *cmd) (func(), error) {
			on := c.boolean("enabled", nil)
			return g.tellMoves(&messages.SetAutomaticBodyYaw{On: on}), nil
		},
		"get_state":       replyOnly,
		"get_version":     replyOnly,
		"get_hardware_id": replyOnly,
		"get_imu":         replyOnly,
		"start_recording": func(g *Gateway, c *cmd) (func(), error) {
			return g.tellMoves(&messages.StartRecording{}), nil
		},
		"stop_recording": func(g *Gateway, c *cmd) (func(), error) {
			return g.tellMoves(&messages.StopRecording{}), nil
		},
		"append_record": func(g *Gateway, c *cmd) (func(), error) {
			v := c.required("record")
			if v == nil {
				return nil, nil
			}
			if _, ok := v.(*validate.Object); !ok {
				c.errs = append(c.errs, validate.Error{Type: "dict_type", Loc: c.loc("record"), Msg: "Input should be a valid dictionary", Input: v})
				return nil, nil
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, nil
			}
			return g.tellMoves(&messages.AppendRecord{Record: raw}), nil
		},
		"set_speech_offsets": func(g *Gateway, c *cmd) (func(), error) {
			f, _ := c.floats("offsets", false)
			if len(c.errs) > 0 || len(f) != 6 {
				return nil, nil // other lengths are ignored, as in the reference
			}
			var o [6]float64
			copy(o[:], f)
			return g.tellMoves(&messages.SetSpeechOffsets{Offsets: o}), nil
		},
		"set_wobbling": func(g *Gateway, c *cmd) (func(), error) {
			// Wobbling is driven by the media server's audio, absent here:
			// as in the reference without a media server, nothing happens.
			c.boolean("enabled", nil)
			return nil, nil
		},
		"set_head_tracking": func(g *Gateway, c *cmd) (func(), error) {
			// Head tracking needs the camera pipeline: unavailable, as the
			// reference reports without a media server.
			c.boolean("enabled", nil)
			c.float("weight", 1)
			return nil, nil
		},
		"get_tracked_face":      replyOnly,
		"set_volume":            volume,
		"set_microphone_volume": volume,
		"get_volume":            replyOnly,
		"get_microphone_volume": replyOnly,
		"get_robot_name":        replyOnly,
		"set_robot_name": func(g *Gateway, c *cmd) (func(), error) {
			n := c.str("name", true, "")
			if len(c.errs) == 0 {
				if l := len([]rune(n)); l < 1 || l > 64 {
					c.errs = append(c.errs, validate.Error{Type: "string_too_long", Loc: c.loc("name"), Msg: "String length out of range", Input: n})
				}
			}
			return g.tellDaemon(&messages.SetRobotName{Name: n}), nil
		},
		"delete_hf_token": func(g *Gateway, c *cmd) (func(), error) {
			return g.tellDaemon(&messages.DeleteHFToken{}), nil
		},
		"get_first_wake_up": replyOnly,
		"set_first_wake_up": func(g *Gateway, c *cmd) (func(), error) {
			t := true
			done := c.boolean("is_completed", &t)
			return g.tellDaemon(&messages.SetFirstWakeUp{Completed: done}), nil
		},
		"subscribe_logs":   replyOnly,
		"unsubscribe_logs": replyOnly,
		"subscribe_pose":   replyOnly,
		"unsubscribe_pose": replyOnly,
		"restart_daemon": func(g *Gateway, c *cmd) (func(), error) {
			return g.tellDaemon(&messages.RestartDaemon{}), nil
		},
		"start_update": func(g *Gateway, c *cmd) (func(), error) {
			f := false
			c.boolean("pre_release", &f)
			return nil, nil // updates exist only on the wireless robot
		},
		"stop_move": func(g *Gateway, c *cmd) (func(), error) {
			return g.tellMoves(&messages.StopAllMoves{}), nil
		},
		"clear_incoming_audio": replyOnly,
		"apply_audio_config":   replyOnly,
		"read_audio_parameter": replyOnly,
		"task":                 task,
	}
	for _, t := range uploadCommands {
		sdkCommands[t] = upload
	}
}

func volume(g *Gateway, c *cmd) (func(), error) {
	v := c.required("volume")
	if v != nil {
		validate.IntInRange(v, c.loc("volume"), 0, 100, &c.errs)
	}
	// No audio device is driven by reachyd yet; the reply (WebRTC only)
	// would say the control is unavailable.
	return nil, nil
}

func sequence(kind messages.MoveKind) sdkHandler {
	return func(g *Gateway, c *cmd) (func(), error) {
		return g.tellMoves(&messages.StartMove{ID: newID(), Kind: kind, Origin: messages.OriginCommand}), nil
	}
}

// gotoFromSDK builds a goto from SDK fields (head as 16 numbers). Ranges
// (duration, antennas, body yaw) and reachability are checked by moves.
func (g *Gateway) gotoFromSDK(hf, af []float64, duration float64, yaw *float64, method, id string, origin messages.MoveOrigin) (func(), error) {
	m, err := sdkGoto(hf, af, duration, yaw, method, id, origin)
	if err != nil {
		return nil, err
	}
	return g.tellMoves(m), nil
}

func sdkGoto(hf, af []float64, duration float64, yaw *float64, method, id string, origin messages.MoveOrigin) (*messages.StartMove, error) {
	// The reference treats an empty list like a missing one.
	if len(hf) == 0 {
		hf = nil
	}
	if len(af) == 0 {
		af = nil
	}
	h, err := head16(hf, "head")
	if err != nil {
		return nil, err
	}
	a, err := pair(af, "antennas")
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = newID()
	}
	return &messages.StartMove{ID: id, Kind: messages.MoveGoto, Origin: origin,
		Goto: messages.GotoParams{Head: h, Antennas: a, BodyYaw: yaw, Duration: duration, Method: method}}, nil
}

// task is the SDK's goto: the reply is a task_progress broadcast. Once the
// task's uuid is known, every task is answered, or the SDK would wait for
// nothing and raise TimeoutError: a request whose values do not validate
// (not finite, a head that is not a rigid 4x4 matrix...) gets its
// task_progress with the error from here, one that moves refuses (out of
// range, unreachable, no backend) from moves.
func task(g *Gateway, c *cmd) (func(), error) {
	idv := c.required("uuid")
	id, _ := validate.UUID(idv, c.loc("uuid"), &c.errs)
	c.required("timestamp")
	rv := c.required("req")
	if len(c.errs) > 0 {
		return nil, nil
	}
	rget, ok := validate.ModelObject(rv, c.loc("req"), &c.errs)
	if !ok {
		return g.taskRefused(id, c.errs), nil
	}
	if _, isMove := rget("move_name"); isMove {
		r := &cmd{get: rget}
		name := r.str("move_name", true, "")
		return func() { g.log.Info("task: play move is not implemented over WS (as in the reference)", "move", name) }, nil
	}
	r := &cmd{get: rget}
	hf, _ := r.floats("head", true)
	af, _ := r.floats("antennas", true)
	d := r.reqFloat("duration")
	method := r.str("method", true, "minjerk")
	y := r.optFloat("body_yaw")
	for _, k := range []string{"head", "antennas", "body_yaw"} {
		r.required(k) // GotoTaskRequest declares every key (nullable)
	}
	if len(r.errs) > 0 {
		return g.taskRefused(id, r.errs), nil
	}
	m, err := sdkGoto(hf, af, d, y, method, id, messages.OriginSDK)
	if err != nil {
		return g.taskFailed(id, err.Error()), nil
	}
	return func() { g.startTask(m) }, nil
}

// taskRefused answers a task whose request does not validate.
func (g *Gateway) taskRefused(id string, errs validate.Errors) func() {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		loc := make([]string, 0, len(e.Loc)+1)
		loc = append(loc, "req")
		for _, l := range e.Loc {
			loc = append(loc, fmt.Sprint(l))
		}
		parts = append(parts, strings.Join(loc, ".")+": "+e.Msg)
	}
	return g.taskFailed(id, "invalid task request: "+strings.Join(parts, "; "))
}

// taskFailed answers a task with an error, as the reference's task_progress
// does when its goto raises.
func (g *Gateway) taskFailed(id, why string) func() {
	return func() {
		g.log.Info("task refused", "uuid", id, "err", why)
		g.sys.Kit.Tell(g.sys.Hub, &messages.TaskProgress{ID: id, Error: why})
	}
}

// startTask sends a task's goto to moves. It is sent at once, so the
// client's next commands come after it; the answer is awaited aside. moves
// answers a refused task itself (task_progress with the error); when moves
// is not there to answer (the backend stopped, the actor restarting), the
// task is answered here, so the SDK never waits for nothing.
func (g *Gateway) startTask(m *messages.StartMove) {
	f := g.sys.Kit.Root.RequestFuture(g.sys.Moves, m, g.cfg.AskTimeout)
	go func() {
		res, err := f.Result()
		if _, dead := res.(*actor.DeadLetterResponse); err != nil || dead {
			g.log.Info("task not started: no move scheduler", "uuid", m.ID, "err", err)
			g.sys.Kit.Tell(g.sys.Hub, &messages.TaskProgress{ID: m.ID, Error: messages.ErrBackendNotRunning.Detail})
		}
	}()
}
