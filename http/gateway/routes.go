package gateway

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

func (g *Gateway) routes() {
	e := g.e
	g.dashboardRoutes()
	e.POST("/health-check", g.healthCheck)
	e.GET("/ws/sdk", g.wsSDK)

	api := e.Group("/api")

	api.POST("/daemon/start", g.daemonStart)
	api.POST("/daemon/stop", g.daemonStop)
	api.POST("/daemon/restart", g.daemonRestart)
	api.POST("/daemon/simulation/reset", g.simulationReset)
	api.GET("/daemon/status", g.daemonStatus)
	api.GET("/daemon/robot-name", g.robotNameGet)
	api.POST("/daemon/robot-name", g.robotNameSet)
	api.GET("/daemon/hardware-id", g.hardwareID)
	api.GET("/daemon/robot-app-lock-status", g.appLockStatus)

	api.GET("/apps/job-status/:job_id", g.jobStatus)
	api.POST("/apps/cancel-job/:job_id", g.cancelJob)
	g.appRoutes(api)
	api.GET("/apps/ws/apps-manager/:job_id", g.wsJob)

	api.GET("/state/present_head_pose", g.presentHeadPose)
	api.GET("/state/present_body_yaw", g.presentBodyYaw)
	api.GET("/state/present_antenna_joint_positions", g.presentAntennas)
	api.GET("/state/doa", g.doa)
	api.GET("/state/full", g.fullState)
	api.GET("/state/ws/full", g.wsFullState)

	api.GET("/move/running", g.runningMoves)
	api.POST("/move/goto", g.gotoMove)
	api.POST("/move/play/wake_up", g.playSequence(messages.MoveWakeUp))
	api.POST("/move/play/goto_sleep", g.playSequence(messages.MoveGotoSleep))
	g.datasetRoutes(api)
	api.POST("/move/stop", g.stopMove)
	api.POST("/move/set_target", g.setTarget)
	api.GET("/move/ws/updates", g.wsMoveUpdates)
	api.GET("/move/ws/set_target", g.wsSetTarget)

	api.GET("/motors/status", g.motorStatus)
	api.POST("/motors/set_mode/:mode", g.setMotorMode)
	api.POST("/motors/reboot", g.rebootMotors)
	api.GET("/move/ws/raw/write", g.wsRawWrite)

	api.GET("/kinematics/info", g.kinematicsInfo)

	api.GET("/media/status", g.mediaStatus)
	api.POST("/media/release", g.mediaRelease(true))
	api.POST("/media/acquire", g.mediaRelease(false))
	g.mediaRoutes(api)
	g.hfAuthRoutes(api)
	g.wifiRoutes()
	g.updateRoutes()
}

// ---- root --------------------------------------------------------------------

func (g *Gateway) healthCheck(c echo.Context) error {
	g.healthMu.Lock()
	g.lastHealth = time.Now()
	g.healthMu.Unlock()
	return jsonBytes(c, []byte(`{"status":"ok"}`))
}

// ---- daemon ------------------------------------------------------------------

func jobStarted(c echo.Context, j messages.JobStarted) error {
	o := wire.ObjStart(nil)
	o.String("job_id", j.JobID)
	return jsonBytes(c, o.End())
}

func (g *Gateway) daemonStart(c echo.Context) error {
	wake, errs := validate.QueryBool(c.QueryParams(), "wake_up", nil)
	if errs != nil {
		return invalid(c, errs)
	}
	j, err := ask[messages.JobStarted](g, c, g.sys.Daemon, &messages.StartDaemon{WakeUp: wake})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jobStarted(c, j)
}

func (g *Gateway) daemonStop(c echo.Context) error {
	sleep, errs := validate.QueryBool(c.QueryParams(), "goto_sleep", nil)
	if errs != nil {
		return invalid(c, errs)
	}
	j, err := ask[messages.JobStarted](g, c, g.sys.Daemon, &messages.StopDaemon{GotoSleep: sleep})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jobStarted(c, j)
}

func (g *Gateway) daemonRestart(c echo.Context) error {
	j, err := ask[messages.JobStarted](g, c, g.sys.Daemon, &messages.RestartDaemon{})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jobStarted(c, j)
}

// simulationReset is a reachyd extension: the MuJoCo simulation back in
// its initial state (the reference has the method, not a route).
func (g *Gateway) simulationReset(c echo.Context) error {
	if _, err := ask[struct{}](g, c, g.sys.Daemon, &messages.ResetSimulation{}); err != nil {
		return g.fail(c, err, false)
	}
	return c.JSON(200, map[string]string{"status": "reset"})
}

func (g *Gateway) status(c echo.Context) (*messages.DaemonStatus, error) {
	return ask[*messages.DaemonStatus](g, c, g.sys.Daemon, &messages.GetDaemonStatus{})
}

func (g *Gateway) daemonStatus(c echo.Context) error {
	st, err := ask[*messages.DaemonStatus](g, c, g.sys.Daemon, &messages.GetDaemonStatus{WithRuntime: true})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jsonBytes(c, wire.DaemonStatus(nil, st, wire.Pydantic))
}

func robotName(c echo.Context, n messages.RobotName) error {
	o := wire.ObjStart(nil)
	if n.Name == "" {
		o.Null("name")
	} else {
		o.String("name", n.Name)
	}
	return jsonBytes(c, o.End())
}

func (g *Gateway) robotNameGet(c echo.Context) error {
	n, err := ask[messages.RobotName](g, c, g.sys.Daemon, &messages.GetRobotName{})
	if err != nil {
		return g.fail(c, err, false)
	}
	return robotName(c, n)
}

func (g *Gateway) robotNameSet(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	name, errs := decodeJSON(c, body, validate.RobotNameFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	n, err := ask[messages.RobotName](g, c, g.sys.Daemon, &messages.SetRobotName{Name: name})
	if err != nil {
		return g.fail(c, err, false)
	}
	return robotName(c, n)
}

// decodeJSON decodes a body as FastAPI does (content type first) and
// validates it with fn.
func decodeJSON[T any](c echo.Context, body []byte, fn func(any) (T, validate.Errors)) (T, validate.Errors) {
	var zero T
	v, errs := validate.DecodeRequest(c.Request().Header.Get(echo.HeaderContentType), body)
	if errs != nil {
		return zero, errs
	}
	return fn(v)
}

func (g *Gateway) hardwareID(c echo.Context) error {
	st, err := g.status(c)
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	if st.HardwareID == "" {
		o.Null("hardware_id")
	} else {
		o.String("hardware_id", st.HardwareID)
	}
	return jsonBytes(c, o.End())
}

// appLockStatus reports the robot app lock.
func (g *Gateway) appLockStatus(c echo.Context) error {
	st, err := ask[messages.LockStatus](g, c, g.sys.Lock, &messages.GetLockStatus{})
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.String("state", string(st.State))
	if st.Holder == "" {
		o.Null("holder_name")
	} else {
		o.String("holder_name", st.Holder)
	}
	return jsonBytes(c, o.End())
}

// ---- jobs ----------------------------------------------------------------------

func (g *Gateway) jobStatus(c echo.Context) error {
	info, err := ask[messages.JobInfo](g, c, g.sys.Jobs, &messages.GetJob{ID: c.Param("job_id")})
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.String("command", info.Command)
	o.String("status", string(info.Status))
	o.Strings("logs", info.Logs)
	return jsonBytes(c, o.End())
}

// cancelJob is a reachyd extension: it stops an install, update or removal
// (the job ends failed, "cancelled"), or the running app whose job it is.
func (g *Gateway) cancelJob(c echo.Context) error {
	r, err := ask[messages.JobCancelling](g, c, g.sys.Jobs, &messages.CancelJob{ID: c.Param("job_id")})
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.String("job_id", r.JobID)
	o.String("status", "cancelling")
	return jsonBytes(c, o.End())
}

// ---- state -----------------------------------------------------------------------

// state asks the hub for the latest tick, 503 when no backend runs.
func (g *Gateway) state(c echo.Context) (*messages.RobotState, error) {
	return ask[*messages.RobotState](g, c, g.sys.Hub, &messages.GetState{})
}

func (g *Gateway) presentHeadPose(c echo.Context) error {
	matrix, errs := validate.QueryBool(c.QueryParams(), "use_pose_matrix", &falseDefault)
	if errs != nil {
		return invalid(c, errs)
	}
	s, err := g.state(c)
	if err != nil {
		return g.fail(c, err, true)
	}
	return jsonBytes(c, wire.Pose(nil, s.HeadPose, matrix, wire.Pydantic))
}

var falseDefault, trueDefault = false, true

func (g *Gateway) presentBodyYaw(c echo.Context) error {
	s, err := g.state(c)
	if err != nil {
		return g.fail(c, err, true)
	}
	return jsonBytes(c, wire.Pydantic.AppendFloat(nil, s.HeadJoints[0]))
}

func (g *Gateway) presentAntennas(c echo.Context) error {
	s, err := g.state(c)
	if err != nil {
		return g.fail(c, err, true)
	}
	return jsonBytes(c, wire.Pydantic.AppendFloats(nil, s.Antennas[:]))
}

// doa is the direction of arrival of sound from the media actor's
// microphone array: null without media, without a ReSpeaker board, or
// before its first reading, as in the reference.
func (g *Gateway) doa(c echo.Context) error {
	if _, err := g.state(c); err != nil {
		return g.fail(c, err, true)
	}
	return jsonBytes(c, wire.DoA(nil, g.readDoA(c.Request().Context()), wire.Pydantic))
}

// fullStateFlags parses the query flags of /state/full and /state/ws/full.
func fullStateFlags(c echo.Context, withControlMode bool) (wire.FullStateFlags, validate.Errors) {
	q := c.QueryParams()
	var all validate.Errors
	flag := func(name string, def bool) bool {
		d := def
		v, errs := validate.QueryBool(q, name, &d)
		all = append(all, errs...)
		return v
	}
	f := wire.FullStateFlags{ControlMode: true}
	if withControlMode {
		f.ControlMode = flag("with_control_mode", true)
	}
	f.HeadPose = flag("with_head_pose", true)
	f.TargetHeadPose = flag("with_target_head_pose", false)
	f.HeadJoints = flag("with_head_joints", false)
	f.TargetHeadJoints = flag("with_target_head_joints", false)
	f.BodyYaw = flag("with_body_yaw", true)
	f.TargetBodyYaw = flag("with_target_body_yaw", false)
	f.AntennaPositions = flag("with_antenna_positions", true)
	f.TargetAntennaPositions = flag("with_target_antenna_positions", false)
	f.PassiveJoints = flag("with_passive_joints", false)
	f.DoA = flag("with_doa", false)
	f.PoseMatrix = flag("use_pose_matrix", false)
	if len(all) > 0 {
		return f, all
	}
	return f, nil
}

func (g *Gateway) fullState(c echo.Context) error {
	f, errs := fullStateFlags(c, true)
	if errs != nil {
		return invalid(c, errs)
	}
	s, err := g.state(c)
	if err != nil {
		return g.fail(c, err, true)
	}
	var doa *messages.DoA
	if f.DoA {
		doa = g.readDoA(c.Request().Context())
	}
	return jsonBytes(c, wire.FullStateDoA(make([]byte, 0, 512), s, f, doa, time.Now(), wire.Pydantic))
}

// ---- move ------------------------------------------------------------------------

func moveUUID(c echo.Context, id string) error {
	o := wire.ObjStart(nil)
	o.String("uuid", id)
	return jsonBytes(c, o.End())
}

func (g *Gateway) runningMoves(c echo.Context) error {
	r, err := ask[messages.RunningMoves](g, c, g.sys.Moves, &messages.ListMoves{})
	if err != nil {
		// No backend: no move runs (the reference's list is then empty).
		r.IDs = nil
	}
	b := []byte{'['}
	for i, id := range r.IDs {
		if i > 0 {
			b = append(b, ',')
		}
		o := wire.ObjStart(b)
		o.String("uuid", id)
		b = o.End()
	}
	return jsonBytes(c, append(b, ']'))
}

func (g *Gateway) startMove(c echo.Context, m *messages.StartMove) error {
	m.ID = uuid.NewString()
	m.Origin = messages.OriginREST
	a, err := ask[messages.MoveAccepted](g, c, g.sys.Moves, m)
	if err != nil {
		return g.fail(c, err, true)
	}
	return moveUUID(c, a.ID)
}

func (g *Gateway) gotoMove(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	req, errs := decodeJSON(c, body, validate.GotoFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	if req.HeadPose != nil && !validate.PoseIsRigid(*req.HeadPose, 1e-3) {
		return detail(c, http.StatusBadRequest, "head_pose is not a rigid transform (rotation not orthonormal or last row not 0 0 0 1)")
	}
	return g.startMove(c, &messages.StartMove{Kind: messages.MoveGoto, Goto: messages.GotoParams{
		Head: req.HeadPose, Antennas: req.Antennas, BodyYaw: req.BodyYaw,
		Duration: req.Duration, Method: req.Interpolation,
	}})
}

func (g *Gateway) playSequence(kind messages.MoveKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		return g.startMove(c, &messages.StartMove{Kind: kind})
	}
}

func (g *Gateway) stopMove(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	id, errs := decodeJSON(c, body, validate.MoveUUIDFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	if _, err := ask[messages.MoveStopped](g, c, g.sys.Moves, &messages.StopMove{ID: id}); err != nil {
		return g.fail(c, err, true)
	}
	o := wire.ObjStart(nil)
	o.String("message", "Stopped move with UUID: "+id)
	return jsonBytes(c, o.End())
}

func (g *Gateway) setTarget(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	t, errs := decodeJSON(c, body, validate.FullBodyTargetFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	r, err := ask[messages.TargetsSet](g, c, g.sys.Moves, &messages.SetTargets{Head: t.HeadPose, Antennas: t.Antennas, BodyYaw: t.BodyYaw})
	if err != nil {
		return g.fail(c, err, true)
	}
	if r.Ignored {
		return jsonBytes(c, []byte(`{"status":"ignored","reason":"move_running"}`))
	}
	return jsonBytes(c, []byte(`{"status":"ok"}`))
}

// ---- motors --------------------------------------------------------------------

var motorModes = []string{string(messages.ModeEnabled), string(messages.ModeDisabled), string(messages.ModeGravityCompensation)}

func (g *Gateway) motorStatus(c echo.Context) error {
	st, err := ask[messages.MotorStatus](g, c, g.sys.Motorbus, &messages.GetMotorStatus{})
	if err != nil {
		return g.fail(c, err, true)
	}
	o := wire.ObjStart(nil)
	o.Style = wire.Pydantic
	o.String("mode", string(st.Mode))
	// reachyd's addition beside the reference's field: per-motor health.
	if st.HaveHealth {
		o.Key("motors")
		o.B = wire.MotorHealth(o.B, &st.Health, &st, wire.Pydantic)
	}
	return jsonBytes(c, o.End())
}

// rebootMotors reboots motors with a latched hardware error (reachyd
// extension): body {"motors": [names]} or none for every latched motor.
func (g *Gateway) rebootMotors(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	var names []string
	if len(strings.TrimSpace(string(body))) > 0 {
		v, errs := validate.DecodeBody(body)
		if errs != nil {
			return invalid(c, errs)
		}
		get, ok := validate.ModelObject(v, []any{"body"}, &errs)
		if !ok {
			return invalid(c, errs)
		}
		if raw, ok := get("motors"); ok && raw != nil {
			list, isList := raw.([]any)
			if !isList {
				return invalid(c, validate.Errors{{Type: "list_type", Loc: []any{"body", "motors"}, Msg: "Input should be a valid list", Input: raw}})
			}
			names = []string{}
			for i, x := range list {
				s, ok := validate.String(x, []any{"body", "motors", i}, &errs)
				if ok {
					names = append(names, s)
				}
			}
			if errs != nil {
				return invalid(c, errs)
			}
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 15*time.Second)
	defer cancel()
	r, err := kit.Ask[messages.MotorsRebooted](ctx, g.sys.Kit, g.sys.Motorbus, &messages.RebootMotors{Names: names})
	if err != nil {
		return g.fail(c, err, true)
	}
	o := wire.ObjStart(nil)
	o.Strings("rebooted", r.Names)
	return jsonBytes(c, o.End())
}

func (g *Gateway) setMotorMode(c echo.Context) error {
	mode := c.Param("mode")
	if errs := validate.PathEnum(mode, "mode", motorModes); errs != nil {
		return invalid(c, errs)
	}
	m, _ := messages.ParseMotorMode(mode)
	if _, err := ask[messages.MotorModeSet](g, c, g.sys.Motorbus, &messages.SetMotorMode{Mode: m}); err != nil {
		return g.fail(c, err, true)
	}
	o := wire.ObjStart(nil)
	o.String("status", "motors changed to MotorControlMode."+m.EnumName()+" mode")
	return jsonBytes(c, o.End())
}

// ---- kinematics --------------------------------------------------------------------

func (g *Gateway) kinematicsInfo(c echo.Context) error {
	if _, err := g.state(c); err != nil {
		return g.fail(c, err, true)
	}
	return jsonBytes(c, []byte(`{"info":{"engine":"AnalyticalKinematics","collision check":false}}`))
}

// ---- media ---------------------------------------------------------------------------

func mediaStatus(c echo.Context, m messages.MediaStatus) error {
	o := wire.ObjStart(nil)
	o.Bool("available", m.Available)
	o.Bool("released", m.Released)
	o.Bool("no_media", m.NoMedia)
	if m.Detail != nil {
		o.Key("reachyd")
		r := wire.ObjStart(o.B)
		r.Key("media")
		r.B = wire.MediaDetail(r.B, m.Detail)
		o.B = r.End()
	}
	return jsonBytes(c, o.End())
}

// mediaOwner is the actor that answers /api/media/status, release and
// acquire: the media actor, or the daemon when there is none.
func (g *Gateway) mediaOwner() *actor.PID {
	if g.sys.Media != nil {
		return g.sys.Media
	}
	return g.sys.Daemon
}

func (g *Gateway) mediaStatus(c echo.Context) error {
	m, err := ask[messages.MediaStatus](g, c, g.mediaOwner(), &messages.GetMediaStatus{})
	if err != nil {
		return g.fail(c, err, false)
	}
	return mediaStatus(c, m)
}

func (g *Gateway) mediaRelease(release bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := ask[messages.MediaStatus](g, c, g.mediaOwner(), &messages.SetMediaReleased{Released: release}); err != nil {
			return g.fail(c, err, false)
		}
		// The central relay follows media, as the reference's release and
		// acquire stop and start it.
		if g.sys.Relay != nil {
			if release {
				g.sys.Kit.Tell(g.sys.Relay, &messages.StopRelay{})
			} else {
				g.sys.Kit.Tell(g.sys.Relay, &messages.StartRelay{})
			}
		}
		return jsonBytes(c, []byte(`{"status":"ok"}`))
	}
}

// default dataset for SDK play_recorded_move without a dataset name.
var defaultDataset = motion.EmotionsDataset
