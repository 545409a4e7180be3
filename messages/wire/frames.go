package wire

import (
	"encoding/json"
	"time"

	"reachyd/hw"
	"reachyd/hw/geom"
	"reachyd/messages"
)

// The encoders below write the reference daemon's frames and response
// bodies field for field, in pydantic's declaration order. Frames pushed on
// WebSockets come from pydantic's model_dump_json (Pydantic float style);
// REST bodies go through FastAPI's json.dumps (Python style).

// JointPositions appends the /ws/sdk joint_positions frame.
func JointPositions(b []byte, s *messages.RobotState) []byte {
	o := ObjStart(b)
	o.Style = Pydantic
	o.String("type", "joint_positions")
	o.Floats("head_joint_positions", s.HeadJoints[:])
	o.Floats("antennas_joint_positions", s.Antennas[:])
	return o.End()
}

// HeadPose appends the /ws/sdk head_pose frame.
func HeadPose(b []byte, s *messages.RobotState) []byte {
	o := ObjStart(b)
	o.Style = Pydantic
	o.String("type", "head_pose")
	o.Mat4("head_pose", s.HeadPose)
	return o.End()
}

// TaskProgress appends the /ws/sdk task_progress frame; at is written as the
// reference's naive local datetime.now().
func TaskProgress(b []byte, t messages.TaskProgress, at time.Time) []byte {
	o := ObjStart(b)
	o.Style = Pydantic
	o.String("type", "task_progress")
	o.String("uuid", t.ID)
	o.Bool("finished", true)
	if t.Error == "" {
		o.Null("error")
	} else {
		o.String("error", t.Error)
	}
	o.Time("timestamp", at.Local(), false)
	return o.End()
}

// RecordedData appends the /ws/sdk recorded_data frame; records are raw JSON
// objects sent by the client.
func RecordedData(b []byte, d *messages.RecordedData) []byte {
	o := ObjStart(b)
	o.String("type", "recorded_data")
	o.Key("data")
	o.B = append(o.B, '[')
	for i, r := range d.Records {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = append(o.B, r...)
	}
	o.B = append(o.B, ']')
	return o.End()
}

// MoveEvent appends an /api/move/ws/updates event.
func MoveEvent(b []byte, e *messages.MoveEvent) []byte {
	o := ObjStart(b)
	o.String("type", e.Type)
	o.String("uuid", e.ID)
	o.String("details", e.Details)
	return o.End()
}

func optBool(o *Obj, k string, v *bool) {
	if v == nil {
		o.Null(k)
		return
	}
	o.Bool(k, *v)
}

func optString(o *Obj, k, v string) {
	if v == "" {
		o.Null(k)
		return
	}
	o.String(k, v)
}

// DaemonStatus appends the reference's DaemonStatus object (the
// daemon_status frame when frame is true: same fields, pydantic floats).
func DaemonStatus(b []byte, s *messages.DaemonStatus, style FloatStyle) []byte {
	o := ObjStart(b)
	o.Style = style
	o.String("type", "daemon_status")
	o.String("robot_name", s.RobotName)
	o.String("state", string(s.State))
	o.Bool("wireless_version", s.WirelessVersion)
	o.Bool("desktop_app_daemon", s.DesktopAppDaemon)
	optBool(&o, "simulation_enabled", s.SimulationEnabled)
	optBool(&o, "mockup_sim_enabled", s.MockupSimEnabled)
	o.Bool("no_media", s.NoMedia)
	o.Bool("media_released", s.MediaReleased)
	o.String("camera_specs_name", s.CameraSpecsName)
	o.Key("backend_status")
	if s.Backend == nil {
		o.B = AppendNull(o.B)
	} else {
		o.B = backendStatus(o.B, s.Backend, s.BackendKind, s.Sim, style)
	}
	optString(&o, "error", s.Error)
	optString(&o, "wlan_ip", s.WlanIP)
	optString(&o, "version", s.Version)
	optString(&o, "hardware_id", s.HardwareID)
	o.Key("face_target")
	o.B = faceTarget(o.B, s.FaceTarget, style)
	// reachyd's additions, under one key so they never collide with a
	// future field of the reference.
	o.Key("reachyd")
	r := ObjStart(o.B)
	r.Style = style
	r.String("backend", s.BackendName)
	r.Float("control_hz", s.ControlHz)
	if s.StartedAt.IsZero() {
		r.Null("started_at")
	} else {
		r.Time("started_at", s.StartedAt, true)
	}
	if rt := s.Runtime; rt != nil {
		r.Key("runtime")
		ro := ObjStart(r.B)
		ro.Style = style
		ro.Int("goroutines", int64(rt.Goroutines))
		ro.Int("heap_live_bytes", int64(rt.HeapLive))
		if s.Backend != nil {
			ro.Float("mean_control_loop_frequency", rt.ControlHz)
		} else {
			ro.Null("mean_control_loop_frequency")
		}
		r.B = ro.End()
	}
	if s.Media != nil {
		r.Key("media")
		r.B = MediaDetail(r.B, s.Media)
	}
	if s.Backend != nil && s.Backend.HaveHealth {
		r.Key("motors")
		r.B = MotorHealth(r.B, &s.Backend.Health, nil, style)
	}
	r.Key("supervision")
	r.B = append(r.B, '[')
	for i, e := range s.Backoff {
		if i > 0 {
			r.B = append(r.B, ',')
		}
		eo := ObjStart(r.B)
		eo.Style = style
		eo.Time("at", e.At, true)
		eo.String("actor", e.Child)
		eo.String("reason", e.Reason)
		eo.String("directive", string(e.Directive))
		eo.Float("delay_ms", e.DelayMS)
		eo.Float("failures", e.Failures)
		r.B = eo.End()
	}
	r.B = append(r.B, ']')
	o.B = r.End()
	return o.End()
}

// backendStatus appends the backend_status object; sim adds the seed's
// MujocoBackendStatus fields (model_loaded, simulation_time,
// real_time_factor), extra fields the reference's clients ignore.
func backendStatus(b []byte, s *messages.BackendStatus, kind string, sim *messages.SimStatus, style FloatStyle) []byte {
	o := ObjStart(b)
	o.Style = style
	if kind == "robot" {
		o.Bool("ready", s.Ready)
		o.String("motor_control_mode", string(s.Mode))
		if s.LastAlive.IsZero() {
			o.Null("last_alive")
		} else {
			o.Float("last_alive", float64(s.LastAlive.UnixNano())/1e9)
		}
		o.Key("control_loop_stats")
		st := ObjStart(o.B)
		st.Style = style
		st.Float("mean_control_loop_frequency", s.MeanHz)
		st.Float("max_control_loop_interval", s.MaxPeriod.Seconds())
		st.Int("nb_error", int64(s.ErrorCount))
		st.String("motor_controller", s.Controller)
		o.B = st.End()
	} else {
		o.String("motor_control_mode", string(s.Mode))
	}
	optString(&o, "error", s.Error)
	if sim != nil {
		o.Bool("model_loaded", sim.ModelLoaded)
		o.String("model", sim.Model)
		o.Float("simulation_time", sim.SimulationTime)
		o.Float("real_time_factor", sim.RealTimeFactor)
	}
	return o.End()
}

func faceTarget(b []byte, f messages.FaceTarget, style FloatStyle) []byte {
	o := ObjStart(b)
	o.Style = style
	o.Bool("detected", f.Detected)
	o.FloatPtr("x", f.X)
	o.FloatPtr("y", f.Y)
	o.FloatPtr("roll", f.Roll)
	o.FloatPtr("ts", f.TS)
	return o.End()
}

// DoA appends the reference's DoaSnapshot {"angle", "speech_detected"}, or
// null when d is nil or not valid (no microphone array, no reading yet).
func DoA(b []byte, d *messages.DoA, style FloatStyle) []byte {
	if d == nil || !d.Valid {
		return AppendNull(b)
	}
	o := ObjStart(b)
	o.Style = style
	o.Float("angle", d.Angle)
	o.Bool("speech_detected", d.SpeechDetected)
	return o.End()
}

// FaceTarget appends the reference's FaceTarget.
func FaceTarget(b []byte, f messages.FaceTarget, style FloatStyle) []byte {
	return faceTarget(b, f, style)
}

// StatusFrame is DaemonStatus as pushed on /ws/sdk.
func StatusFrame(b []byte, s *messages.DaemonStatus) []byte { return DaemonStatus(b, s, Pydantic) }

// FullStateFlags are the query flags of /api/state/full and
// /api/state/ws/full.
type FullStateFlags struct {
	ControlMode, HeadPose, TargetHeadPose, HeadJoints, TargetHeadJoints bool
	BodyYaw, TargetBodyYaw, AntennaPositions, TargetAntennaPositions    bool
	PassiveJoints, DoA, PoseMatrix                                      bool
}

// DefaultFullStateFlags are the reference's defaults.
var DefaultFullStateFlags = FullStateFlags{ControlMode: true, HeadPose: true, BodyYaw: true, AntennaPositions: true}

// Pose appends a pose as the reference's AnyPose: Matrix4x4Pose {"m":[16]}
// or XYZRPYPose {"x","y","z","roll","pitch","yaw"}.
func Pose(b []byte, p geom.Mat4, matrix bool, style FloatStyle) []byte {
	o := ObjStart(b)
	o.Style = style
	if matrix {
		f := p.Flat()
		o.Floats("m", f[:])
		return o.End()
	}
	x, y, z, roll, pitch, yaw := p.XYZRPY()
	o.Float("x", x)
	o.Float("y", y)
	o.Float("z", z)
	o.Float("roll", roll)
	o.Float("pitch", pitch)
	o.Float("yaw", yaw)
	return o.End()
}

// FullState appends the reference's FullState for the flags, stamped at.
// Absent parts are null, as pydantic dumps them. The target_* parts the
// reference computes and then drops are included when asked for (a
// documented fix), after the reference's fields. doa is null: see
// FullStateDoA.
func FullState(b []byte, s *messages.RobotState, f FullStateFlags, at time.Time, style FloatStyle) []byte {
	return FullStateDoA(b, s, f, nil, at, style)
}

// FullStateDoA is FullState with the direction of arrival of sound, written
// when f.DoA is set and doa is valid (null otherwise, as the reference
// without a microphone array or before its first reading).
func FullStateDoA(b []byte, s *messages.RobotState, f FullStateFlags, doa *messages.DoA, at time.Time, style FloatStyle) []byte {
	o := ObjStart(b)
	o.Style = style
	if f.ControlMode {
		o.String("control_mode", string(s.Mode))
	} else {
		o.Null("control_mode")
	}
	o.Key("head_pose")
	if f.HeadPose {
		o.B = Pose(o.B, s.HeadPose, f.PoseMatrix, style)
	} else {
		o.B = AppendNull(o.B)
	}
	if f.HeadJoints {
		o.Floats("head_joints", s.HeadJoints[:])
	} else {
		o.Null("head_joints")
	}
	if f.BodyYaw {
		o.Float("body_yaw", s.HeadJoints[0])
	} else {
		o.Null("body_yaw")
	}
	if f.AntennaPositions {
		o.Floats("antennas_position", s.Antennas[:])
	} else {
		o.Null("antennas_position")
	}
	o.Time("timestamp", at, true)
	// No Placo engine: passive joints are unknown, as in the reference's
	// analytical backend.
	o.Null("passive_joints")
	o.Key("doa")
	if f.DoA {
		o.B = DoA(o.B, doa, style)
	} else {
		o.B = AppendNull(o.B)
	}
	if f.TargetHeadPose {
		o.Key("target_head_pose")
		if s.HasTargetHeadPose {
			o.B = Pose(o.B, s.TargetHeadPose, f.PoseMatrix, style)
		} else {
			o.B = AppendNull(o.B)
		}
	}
	if f.TargetHeadJoints {
		if s.HasTargetJoints {
			o.Floats("target_head_joints", s.TargetHeadJoints[:])
		} else {
			o.Null("target_head_joints")
		}
	}
	if f.TargetBodyYaw {
		if s.HasTargetBodyYaw {
			o.Float("target_body_yaw", s.TargetBodyYaw)
		} else {
			o.Null("target_body_yaw")
		}
	}
	if f.TargetAntennaPositions {
		if s.HasTargetAntennas {
			o.Floats("target_antennas_position", s.TargetAntennas[:])
		} else {
			o.Null("target_antennas_position")
		}
	}
	return o.End()
}

// MotorHealth appends the per-motor health as a list in bus order; st,
// when given, adds torque and operating mode.
func MotorHealth(b []byte, h *hw.Health, st *messages.MotorStatus, style FloatStyle) []byte {
	b = append(b, '[')
	for i := range h {
		if i > 0 {
			b = append(b, ',')
		}
		m := &h[i]
		o := ObjStart(b)
		o.Style = style
		o.String("name", hw.MotorNames[i])
		o.Int("id", int64(hw.MotorIDs[i]))
		if st != nil {
			o.Bool("torque", st.Torque.Has(i))
			o.Int("operating_mode", int64(st.Modes[i]))
		}
		o.Bool("answering", m.Answering)
		if m.LastAnswer.IsZero() {
			o.Null("last_answer")
		} else {
			o.Time("last_answer", m.LastAnswer, true)
		}
		o.Float("present_position", m.Position)
		o.Float("temperature", m.Temperature)
		o.Float("voltage", m.Voltage)
		o.Int("hardware_error_bits", int64(m.HardwareError))
		o.Key("hardware_error")
		o.B = append(o.B, '[')
		for j, n := range hw.HardwareErrorNames(m.HardwareError) {
			if j > 0 {
				o.B = append(o.B, ',')
			}
			o.B = AppendString(o.B, n)
		}
		o.B = append(o.B, ']')
		b = o.End()
	}
	return append(b, ']')
}

// mediaDetail is MediaDetail's JSON shape.
type mediaDetail struct {
	Reason      string          `json:"reason,omitempty"`
	Signalling  string          `json:"signalling,omitempty"`
	Pipelines   []mediaPipeline `json:"pipelines"`
	Sessions    []mediaSession  `json:"sessions"`
	SpeakerRMS  float64         `json:"speaker_rms_db"`
	SpeakerLoud uint64          `json:"speaker_loud_reports"`
	Wobbling    bool            `json:"wobbling"`
	Sound       string          `json:"sound"`
}

type mediaPipeline struct {
	Name      string `json:"name"`
	Pid       int    `json:"pid"`
	Running   bool   `json:"running"`
	Restarts  int    `json:"restarts"`
	LastError string `json:"last_error,omitempty"`
}

type mediaSession struct {
	ID       string `json:"id"`
	PeerID   string `json:"peer_id"`
	Remote   string `json:"remote"`
	State    string `json:"state"`
	Audio    bool   `json:"sends_audio"`
	Since    string `json:"since"`
	Relay    bool   `json:"relay"`
	Pose     bool   `json:"pose"`
	Messages uint64 `json:"messages"`
}

// MediaDetail appends reachyd's media block (status extension).
func MediaDetail(b []byte, d *messages.MediaDetail) []byte {
	m := mediaDetail{Reason: d.Reason, Signalling: d.Signalling, SpeakerRMS: d.SpeakerRMS, SpeakerLoud: d.SpeakerLoud,
		Wobbling: d.Wobbling, Sound: d.Sound, Pipelines: []mediaPipeline{}, Sessions: []mediaSession{}}
	for _, p := range d.Pipelines {
		m.Pipelines = append(m.Pipelines, mediaPipeline(p))
	}
	for _, s := range d.Sessions {
		m.Sessions = append(m.Sessions, mediaSession(s))
	}
	j, err := json.Marshal(m)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}
