package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gorilla/websocket"

	"reachyd/http/validate"
	"reachyd/hw"
	"reachyd/hw/geom"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// errSkip marks a frame that does not validate against the command schema:
// the reference drops those silently (with a log line).
var errSkip = errors.New("invalid command frame")

// cmd reads one command's fields with the pydantic semantics of the
// reference's protocol models. Any schema error makes the frame skipped.
type cmd struct {
	get  func(string) (any, bool)
	errs validate.Errors
	typ  string
	// peer receives the replies: the data channel's peer, nil on /ws/sdk.
	peer Peer
	// trusted: the client came over the unix socket as reachyd's own user
	// or root (it may play a sound by any path).
	trusted bool
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
	if _, ok := c.get(name); !ok {
		validate.Missing(c.loc(name), nil, &c.errs)
		return 0
	}
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
// fails while dispatching. trusted: the client came over the unix socket
// with reachyd's uid (or root).
func (g *Gateway) sdkReadLoop(w *wsConn, trusted bool) {
	for {
		typ, data, err := w.c.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		err = g.command(data, nil, trusted)
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

// invalidFrame is a frame that does not validate against the command
// schema: /ws/sdk drops it (with a log line), as the reference does; the
// data channel answers {"error": "Invalid command: <why>"}.
type invalidFrame struct{ why string }

func (e *invalidFrame) Error() string { return errSkip.Error() + ": " + e.why }
func (e *invalidFrame) Unwrap() error { return errSkip }

// sdkCommand validates and dispatches one /ws/sdk frame (no replies).
func (g *Gateway) sdkCommand(data []byte) error { return g.command(data, nil, false) }

// command validates one frame and runs it. Replies go to peer; with no
// peer (/ws/sdk) none is sent, as the reference's send_response is a no-op
// there.
func (g *Gateway) command(data []byte, peer Peer, trusted bool) error {
	v, errs := validate.DecodeBody(data)
	return g.commandValue(v, errs, peer, trusted)
}

func (g *Gateway) commandValue(v any, errs validate.Errors, peer Peer, trusted bool) error {
	if errs != nil {
		return &invalidFrame{describeErrors(errs)}
	}
	get, ok := validate.ModelObject(v, nil, &errs)
	if !ok {
		return &invalidFrame{"Input should be a valid dictionary or object to extract fields from"}
	}
	tv, present := get("type")
	typ, _ := tv.(string)
	h, ok := sdkCommands[typ]
	if !ok || (peer != nil && typ == "task") { // task exists on /ws/sdk only
		if !present {
			return &invalidFrame{"Unable to extract tag using discriminator 'type'"}
		}
		return &invalidFrame{fmt.Sprintf("Input tag '%v' found using 'type' does not match any of the expected tags", tv)}
	}
	c := &cmd{get: get, typ: typ, peer: peer, trusted: trusted}
	act, err := h(g, c)
	if len(c.errs) > 0 {
		return &invalidFrame{typ + ": " + describeErrors(c.errs)}
	}
	if err != nil {
		return err
	}
	if act != nil {
		act()
	}
	return nil
}

// describeErrors says what is wrong with a frame in one line:
// "loc: msg; loc: msg".
func describeErrors(errs validate.Errors) string {
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		if e.Type == "json_invalid" {
			parts = append(parts, fmt.Sprintf("Invalid JSON: %v", e.Ctx["error"]))
			continue
		}
		loc := make([]string, len(e.Loc))
		for i, l := range e.Loc {
			loc[i] = fmt.Sprint(l)
		}
		if len(loc) == 0 {
			parts = append(parts, e.Msg)
		} else {
			parts = append(parts, strings.Join(loc, ".")+": "+e.Msg)
		}
	}
	return strings.Join(parts, "; ")
}

// sdkHandler validates a command's fields (into c.errs, or an error for a
// value the reference's handler raises on) and returns the action to run.
// The action answers c's peer, if any (c.send, c.ok...); on /ws/sdk it only
// acts, and commands whose only effect is a reply have no action.
type sdkHandler func(g *Gateway, c *cmd) (func(), error)

func (g *Gateway) tellMoves(m any) func()  { return func() { g.sys.Kit.Tell(g.sys.Moves, m) } }
func (g *Gateway) tellDaemon(m any) func() { return func() { g.sys.Kit.Tell(g.sys.Daemon, m) } }

// tellMovesOK tells moves and acks the setter.
func (g *Gateway) tellMovesOK(c *cmd, m any) func() {
	return func() {
		g.sys.Kit.Tell(g.sys.Moves, m)
		c.ok()
	}
}

// askMotorbus runs a motor mode or torque change to its end before the next
// frame is read, as the reference's receive loop does: motorbus has pinned
// the goals (and told moves) when it answers, so a target sent right after
// an enable is applied after the pin and wins. On /ws/sdk errors have no
// reply and are logged; a peer is answered with ok, or the error (with the
// command's name when withCommand).
func (g *Gateway) askMotorbus(c *cmd, m any, ok func(), withCommand bool) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
		defer cancel()
		if _, err := g.sys.Kit.AskAny(ctx, g.sys.Motorbus, m); err != nil {
			g.log.Info("WS motor command refused", "command", fmt.Sprintf("%T", m), "err", err)
			if withCommand {
				c.failCmd(g.errText(err, true))
			} else {
				c.fail(g.errText(err, true))
			}
			return
		}
		if ok != nil {
			ok()
		}
	}
}

// replyOnly are commands that answer nothing on any transport.
func replyOnly(*Gateway, *cmd) (func(), error) { return nil, nil }

// peerOnly is a command whose only effect is its reply: nothing on
// /ws/sdk.
func peerOnly(run func(g *Gateway, c *cmd)) sdkHandler {
	return func(g *Gateway, c *cmd) (func(), error) {
		if c.peer == nil {
			return nil, nil
		}
		return func() { run(g, c) }, nil
	}
}

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
			return g.tellMovesOK(c, &messages.SetTargets{Head: h}), nil
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
			return g.tellMovesOK(c, &messages.SetHeadJoints{Joints: j}), nil
		},
		"set_body_yaw": func(g *Gateway, c *cmd) (func(), error) {
			y := c.reqFloat("body_yaw")
			return g.tellMovesOK(c, &messages.SetTargets{BodyYaw: &y}), nil
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
			return g.tellMovesOK(c, &messages.SetTargets{Antennas: a}), nil
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
			return g.tellMovesOK(c, &messages.SetTargets{Head: h, Antennas: a, BodyYaw: y}), nil
		},
		"goto_target": func(g *Gateway, c *cmd) (func(), error) {
			hf, _ := c.floats("head", true)
			af, _ := c.floats("antennas", true)
			d := c.float("duration", 0.5)
			y := c.optFloat("body_yaw")
			if len(c.errs) > 0 {
				return nil, nil
			}
			m, err := sdkGoto(hf, af, d, y, "minjerk", "", messages.OriginCommand)
			if err != nil {
				return nil, err
			}
			if c.peer != nil {
				wait := moveWaitMargin
				if d > 0 && d <= messages.MaxMoveDuration {
					wait += time.Duration(d * float64(time.Second))
				}
				return g.peerMove(c, m, wait), nil
			}
			return g.tellMoves(m), nil
		},
		"wake_up":    sequence(messages.MoveWakeUp),
		"goto_sleep": sequence(messages.MoveGotoSleep),
		"play_sound": func(g *Gateway, c *cmd) (func(), error) {
			f := c.str("file", true, "")
			if len(c.errs) > 0 {
				return nil, nil
			}
			return func() { g.playSoundCmd(c, f) }, nil
		},
		"play_recorded_move": func(g *Gateway, c *cmd) (func(), error) {
			name := c.str("move_name", true, "")
			ds := defaultDataset
			if v, ok := c.present("dataset_name"); ok {
				ds, _ = validate.String(v, c.loc("dataset_name"), &c.errs)
			}
			init := c.float("initial_goto_duration", 0)
			m := &messages.StartMove{ID: newID(), Kind: messages.MoveRecorded, Origin: messages.OriginCommand,
				Dataset: ds, Move: name, InitialGoto: init}
			if c.peer != nil {
				return func() { go g.peerRecordedMove(c, m) }, nil
			}
			// A dataset not on disk is downloaded by moves' loader.
			return g.tellMoves(m), nil
		},
		"preload_dataset": func(g *Gateway, c *cmd) (func(), error) {
			ds := c.str("dataset_name", true, "")
			if len(c.errs) > 0 {
				return nil, nil
			}
			return func() { go g.preloadDataset(c, ds) }, nil
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
			return g.askMotorbus(c, &messages.SetMotorMode{Mode: m}, func() {
				c.reply(func(o *wire.Obj) {
					o.String("motor_mode", s)
					o.String("status", "ok")
				})
			}, false), nil
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
			return g.askMotorbus(c, &messages.SetTorque{Names: ids, On: on}, c.ok, false), nil
		},
		"get_motor_mode": peerOnly(func(g *Gateway, c *cmd) {
			st, err := peerAsk[messages.MotorStatus](g, g.sys.Motorbus, &messages.GetMotorStatus{})
			if err != nil {
				c.fail(g.errText(err, true))
				return
			}
			c.reply(func(o *wire.Obj) { o.String("motor_mode", string(st.Mode)) })
		}),
		"set_gravity_compensation": func(g *Gateway, c *cmd) (func(), error) {
			on := c.boolean("enabled", nil)
			m := messages.ModeEnabled
			if on {
				m = messages.ModeGravityCompensation
			}
			return g.askMotorbus(c, &messages.SetMotorMode{Mode: m}, c.ok, true), nil
		},
		"set_automatic_body_yaw": func(g *Gateway, c *cmd) (func(), error) {
			on := c.boolean("enabled", nil)
			return g.tellMovesOK(c, &messages.SetAutomaticBodyYaw{On: on}), nil
		},
		"get_state": peerOnly((*Gateway).peerState),
		"get_version": peerOnly(func(g *Gateway, c *cmd) {
			c.reply(func(o *wire.Obj) { o.String("version", g.cfg.Version) })
		}),
		"get_hardware_id": peerOnly(func(g *Gateway, c *cmd) {
			st, err := peerAsk[*messages.DaemonStatus](g, g.sys.Daemon, &messages.GetDaemonStatus{})
			if err != nil {
				c.fail(g.errText(err, false))
				return
			}
			c.reply(func(o *wire.Obj) { optString(o, "hardware_id", st.HardwareID) })
		}),
		"get_imu": peerOnly(func(g *Gateway, c *cmd) {
			// No IMU is read by reachyd: null, as the reference answers on
			// a robot without one.
			c.reply(func(o *wire.Obj) {
				o.String("command", "get_imu")
				o.Null("imu")
			})
		}),
		"start_recording": recording(true),
		"stop_recording":  recording(false),
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
			return g.tellMovesOK(c, &messages.AppendRecord{Record: raw}), nil
		},
		"set_speech_offsets": func(g *Gateway, c *cmd) (func(), error) {
			f, _ := c.floats("offsets", false)
			if len(c.errs) > 0 {
				return nil, nil
			}
			if len(f) != 6 {
				return c.ok, nil // other lengths are ignored (and acked), as in the reference
			}
			var o [6]float64
			copy(o[:], f)
			return g.tellMovesOK(c, &messages.SetSpeechOffsets{Offsets: o}), nil
		},
		"set_wobbling": func(g *Gateway, c *cmd) (func(), error) {
			on := c.boolean("enabled", nil)
			if len(c.errs) > 0 {
				return nil, nil
			}
			// Without media the reference does nothing (and acks).
			return func() { g.mediaCmd(c, &messages.SetWobbling{On: on}) }, nil
		},
		"set_head_tracking": func(g *Gateway, c *cmd) (func(), error) {
			// Head tracking needs a face detector on the camera's frames,
			// which reachyd does not have: unavailable, as the reference
			// reports without a camera.
			on := c.boolean("enabled", nil)
			if v, ok := c.get("weight"); ok {
				zero, one := 0.0, 1.0
				validate.FloatRange(v, c.loc("weight"), &zero, nil, &one, &c.errs)
			}
			if len(c.errs) > 0 {
				return nil, nil
			}
			return func() {
				c.reply(func(o *wire.Obj) {
					if on {
						o.String("status", "unavailable")
					} else {
						o.String("status", "ok")
					}
					o.String("command", "set_head_tracking")
					o.Bool("enabled", false)
				})
			}, nil
		},
		"get_tracked_face": peerOnly(func(g *Gateway, c *cmd) {
			c.reply(func(o *wire.Obj) {
				o.String("command", "get_tracked_face")
				o.Key("face_target")
				o.B = wire.FaceTarget(o.B, messages.FaceTarget{}, wire.Python)
			})
		}),
		"set_volume":            setVolume(false),
		"set_microphone_volume": setVolume(true),
		"get_volume":            peerOnly(getVolume(false)),
		"get_microphone_volume": peerOnly(getVolume(true)),
		"get_robot_name": peerOnly(func(g *Gateway, c *cmd) {
			n, err := peerAsk[messages.RobotName](g, g.sys.Daemon, &messages.GetRobotName{})
			if err != nil {
				c.fail(g.errText(err, false))
				return
			}
			c.reply(func(o *wire.Obj) {
				o.String("command", "get_robot_name")
				optString(o, "name", n.Name)
			})
		}),
		"set_robot_name": func(g *Gateway, c *cmd) (func(), error) {
			n := c.str("name", true, "")
			if len(c.errs) == 0 {
				if l := len([]rune(n)); l < 1 || l > 64 {
					c.errs = append(c.errs, validate.Error{Type: "string_too_long", Loc: c.loc("name"), Msg: "String length out of range", Input: n})
				}
			}
			if c.peer == nil {
				return g.tellDaemon(&messages.SetRobotName{Name: n}), nil
			}
			return func() {
				status := "ok"
				r, err := peerAsk[messages.RobotName](g, g.sys.Daemon, &messages.SetRobotName{Name: n})
				if err != nil {
					status = "error"
					r, _ = peerAsk[messages.RobotName](g, g.sys.Daemon, &messages.GetRobotName{})
				}
				c.reply(func(o *wire.Obj) {
					o.String("command", "set_robot_name")
					o.String("status", status)
					optString(o, "name", r.Name)
				})
			}, nil
		},
		"delete_hf_token": func(g *Gateway, c *cmd) (func(), error) {
			if c.peer == nil {
				return g.tellDaemon(&messages.DeleteHFToken{}), nil
			}
			return func() {
				status := "ok"
				if _, err := peerAsk[struct{}](g, g.sys.Daemon, &messages.DeleteHFToken{}); err != nil {
					g.log.Warn("delete_hf_token failed", "err", err)
					status = "error"
				}
				c.reply(func(o *wire.Obj) {
					o.String("command", "delete_hf_token")
					o.String("status", status)
				})
			}, nil
		},
		"get_first_wake_up": peerOnly(func(g *Gateway, c *cmd) {
			r, err := peerAsk[messages.FirstWakeUp](g, g.sys.Daemon, &messages.GetFirstWakeUp{})
			if err != nil {
				c.fail(g.errText(err, false))
				return
			}
			c.reply(func(o *wire.Obj) {
				o.String("command", "get_first_wake_up")
				o.Bool("is_completed", r.Completed)
			})
		}),
		"set_first_wake_up": func(g *Gateway, c *cmd) (func(), error) {
			t := true
			done := c.boolean("is_completed", &t)
			if c.peer == nil {
				return g.tellDaemon(&messages.SetFirstWakeUp{Completed: done}), nil
			}
			return func() {
				// The daemon answers with the stored value: a failed write
				// leaves the old one, which the reference reports as an
				// error with the stored value.
				r, err := peerAsk[messages.FirstWakeUp](g, g.sys.Daemon, &messages.SetFirstWakeUp{Completed: done})
				if err != nil {
					c.fail(g.errText(err, false))
					return
				}
				c.reply(func(o *wire.Obj) {
					o.String("command", "set_first_wake_up")
					if r.Completed == done {
						o.String("status", "ok")
					} else {
						o.String("status", "error")
					}
					o.Bool("is_completed", r.Completed)
				})
			}, nil
		},
		// The daemon's log as log_line frames (routes_surface.go). On
		// /ws/sdk the reference's answer (an error: no peer) is dropped.
		"subscribe_logs":   peerOnly(func(g *Gateway, c *cmd) { g.subscribeLogs(c.peer) }),
		"unsubscribe_logs": peerOnly(func(g *Gateway, c *cmd) { g.unsubscribeLogs(c.peer.ID()) }),
		"subscribe_pose":   pose(true),
		"unsubscribe_pose": pose(false),
		"restart_daemon": func(g *Gateway, c *cmd) (func(), error) {
			return func() {
				// The ack goes first: the restart may end this peer's
				// session before anything sent after it.
				c.ok()
				g.sys.Kit.Tell(g.sys.Daemon, &messages.RestartDaemon{})
			}, nil
		},
		"start_update": func(g *Gateway, c *cmd) (func(), error) {
			f := false
			pre := c.boolean("pre_release", &f)
			return func() { g.startUpdateCmd(c, pre) }, nil
		},
		"stop_move": func(g *Gateway, c *cmd) (func(), error) {
			if c.peer == nil {
				return g.tellMoves(&messages.StopAllMoves{}), nil
			}
			return func() {
				r, err := peerAsk[messages.MoveStopped](g, g.sys.Moves, &messages.StopAllMoves{})
				if err != nil {
					c.fail(g.errText(err, true))
					return
				}
				c.reply(func(o *wire.Obj) {
					o.String("status", "ok")
					o.String("command", "stop_move")
					o.Bool("stopped", r.Stopped)
					if !r.Stopped {
						o.String("info", "no active move")
					}
				})
			}, nil
		},
		"clear_incoming_audio": func(g *Gateway, c *cmd) (func(), error) {
			return func() { g.mediaCmd(c, &messages.ClearIncomingAudio{}) }, nil
		},
		"apply_audio_config": func(g *Gateway, c *cmd) (func(), error) {
			cfg, errs := validate.AudioConfigFields(c.get, nil, nil)
			c.errs = append(c.errs, errs...)
			if len(c.errs) > 0 {
				return nil, nil
			}
			return func() { g.applyAudioConfigCmd(c, audioConfigMsg(cfg)) }, nil
		},
		"read_audio_parameter": func(g *Gateway, c *cmd) (func(), error) {
			name := c.str("name", true, "")
			if len(c.errs) > 0 {
				return nil, nil
			}
			return peerOnly(func(g *Gateway, c *cmd) { g.readAudioParameterCmd(c, name) })(g, c)
		},
		"task": task,
	}
	for _, t := range uploadCommands {
		sdkCommands[t] = upload
	}
}

func sequence(kind messages.MoveKind) sdkHandler {
	return func(g *Gateway, c *cmd) (func(), error) {
		m := &messages.StartMove{ID: newID(), Kind: kind, Origin: messages.OriginCommand}
		if c.peer != nil {
			return g.peerMove(c, m, sequenceWait), nil
		}
		return g.tellMoves(m), nil
	}
}

func recording(on bool) sdkHandler {
	return func(g *Gateway, c *cmd) (func(), error) {
		var m any = &messages.StopRecording{}
		if on {
			m = &messages.StartRecording{}
		}
		if c.peer == nil {
			return g.tellMoves(m), nil
		}
		return func() {
			if _, err := peerAsk[struct{}](g, g.sys.Moves, m); err != nil {
				c.fail(g.errText(err, true))
				return
			}
			c.reply(func(o *wire.Obj) {
				o.String("status", "ok")
				o.String("command", c.typ)
				o.Bool("is_recording", on)
			})
		}, nil
	}
}

func pose(on bool) sdkHandler {
	return peerOnly(func(g *Gateway, c *cmd) {
		if ps, ok := c.peer.(PoseSubscriber); ok {
			ps.SubscribePose(on)
		}
		c.ok()
	})
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
