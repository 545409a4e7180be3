package gateway

// The schemas of reachyd's OpenAPI document (apidoc.go): the reference's
// request and response models, written here from its contract
// (../shared/spec/daemon-api.md; names, fields, required sets and enums as
// the reference's own document has them, which a test checks), and
// reachyd's own.

// schema is a JSON Schema fragment (OpenAPI 3.1).
type schema = map[string]any

// prop is one property of an object schema.
type prop struct {
	name     string
	s        schema
	required bool
}

func jsReq(name string, s schema) prop { return prop{name, s, true} }
func jsOpt(name string, s schema) prop { return prop{name, s, false} }

func jsObj(desc string, props ...prop) schema {
	p := map[string]any{}
	var required []any
	var order []any
	for _, x := range props {
		p[x.name] = x.s
		order = append(order, x.name)
		if x.required {
			required = append(required, x.name)
		}
	}
	s := schema{"type": "object", "properties": p, "x-order": order}
	if len(required) > 0 {
		s["required"] = required
	}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

func jsRef(name string) schema { return schema{"$ref": "#/components/schemas/" + name} }
func jsStr() schema            { return schema{"type": "string"} }
func jsNum() schema            { return schema{"type": "number"} }
func jsInt() schema            { return schema{"type": "integer"} }
func jsBool() schema           { return schema{"type": "boolean"} }
func jsNull() schema           { return schema{"type": "null"} }
func jsAny() schema            { return schema{} }
func jsArr(items schema) schema {
	return schema{"type": "array", "items": items}
}
func jsDict(values schema) schema {
	if values == nil {
		return schema{"type": "object", "additionalProperties": true}
	}
	return schema{"type": "object", "additionalProperties": values}
}
func jsNullable(s schema) schema { return jsAnyOf(s, jsNull()) }
func jsAnyOf(ss ...schema) schema {
	alts := make([]any, len(ss))
	for i, s := range ss {
		alts[i] = s
	}
	return schema{"anyOf": alts}
}
func jsEnum(vals ...string) schema {
	e := make([]any, len(vals))
	for i, v := range vals {
		e[i] = v
	}
	return schema{"type": "string", "enum": e}
}

// with returns s with extra keywords (a default, a description, bounds).
func jsWith(s schema, kv ...any) schema {
	out := schema{}
	for k, v := range s {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func jsTuple(n int, item schema) schema {
	items := make([]any, n)
	for i := range items {
		items[i] = item
	}
	return schema{"type": "array", "prefixItems": items, "minItems": n, "maxItems": n}
}

func jsDesc(s schema, d string) schema { return jsWith(s, "description", d) }

// headPose is the reference's head pose: XYZRPY or a 4x4 matrix.
func jsHeadPose() schema { return jsAnyOf(jsRef("XYZRPYPose"), jsRef("Matrix4x4Pose")) }

// components are the document's named schemas.
func components() map[string]schema {
	motorMode := jsRef("MotorControlMode")
	return map[string]schema{
		// ---- the reference's models ----
		"AppInfo": jsObj("Metadata about an app.",
			jsReq("name", jsStr()), jsReq("source_kind", jsRef("SourceKind")), jsOpt("description", jsWith(jsStr(), "default", "")),
			jsOpt("url", jsNullable(jsStr())), jsOpt("extra", jsDict(nil))),
		"AppState": jsEnum("starting", "running", "done", "stopping", "error"),
		"AppStatus": jsObj("Status of an app. reachyd adds a \"reachyd\" object (job_id, pid).",
			jsReq("info", jsRef("AppInfo")), jsReq("state", jsRef("AppState")), jsOpt("error", jsNullable(jsStr()))),
		"AppUpdateStatus": jsObj("Status of an app update check.",
			jsReq("app_name", jsStr()), jsReq("space_id", jsStr()), jsReq("installed_sha", jsStr()), jsReq("latest_sha", jsStr()),
			jsReq("update_available", jsBool()), jsOpt("last_modified", jsNullable(jsStr()))),
		"AppUpdatesResponse": jsObj("Response for list of app updates.",
			jsReq("apps_with_updates", jsArr(jsRef("AppUpdateStatus"))), jsReq("apps_checked", jsInt()), jsReq("apps_skipped", jsInt())),
		"ApplyAudioConfigRequest": jsObj("Request body for POST /api/audio/config/apply.",
			jsReq("config", jsArr(jsRef("AudioParamPair"))), jsOpt("verify", jsWith(jsBool(), "default", true))),
		"ApplyAudioConfigResponse": jsObj("Response body for POST /api/audio/config/apply.", jsReq("applied", jsBool())),
		"AudioParamPair":           jsObj("One (parameter name, values) pair of an audio config.", jsReq("name", jsStr()), jsReq("values", jsArr(jsNum()))),
		"Body_upload_sound_api_media_sounds_upload_post": jsObj("",
			jsReq("file", jsWith(jsStr(), "format", "binary", "contentMediaType", "application/octet-stream"))),
		"CameraSpecsResponse": jsObj("Full camera specifications as detected by the daemon.",
			jsReq("name", jsStr()), jsReq("available_resolutions", jsArr(jsRef("ResolutionInfo"))), jsReq("default_resolution", jsRef("ResolutionInfo")),
			jsReq("K", jsArr(jsArr(jsNum()))), jsReq("D", jsArr(jsNum()))),
		"DaemonState": jsEnum("not_initialized", "starting", "running", "stopping", "stopped", "error"),
		"DaemonStatus": jsObj("Status of the Reachy Mini daemon. reachyd adds a \"reachyd\" object (backend, supervision events, runtime figures).",
			jsOpt("type", jsWith(jsStr(), "const", "daemon_status", "default", "daemon_status")),
			jsReq("robot_name", jsStr()), jsReq("state", jsRef("DaemonState")), jsReq("wireless_version", jsBool()),
			jsReq("desktop_app_daemon", jsBool()), jsReq("simulation_enabled", jsNullable(jsBool())),
			jsReq("mockup_sim_enabled", jsNullable(jsBool())), jsOpt("no_media", jsWith(jsBool(), "default", false)),
			jsOpt("media_released", jsWith(jsBool(), "default", false)), jsOpt("camera_specs_name", jsWith(jsStr(), "default", "")),
			jsReq("backend_status", jsAnyOf(jsRef("RobotBackendStatus"), jsRef("MujocoBackendStatus"), jsRef("MockupSimBackendStatus"), jsNull())),
			jsOpt("error", jsNullable(jsStr())), jsOpt("wlan_ip", jsNullable(jsStr())), jsOpt("version", jsNullable(jsStr())),
			jsOpt("hardware_id", jsNullable(jsStr())), jsOpt("face_target", jsRef("FaceTarget"))),
		"DoaSnapshot": jsObj("Sound direction of arrival (ReSpeaker microphone array): angle in radians (0 left, pi/2 front, pi right).",
			jsReq("angle", jsNum()), jsReq("speech_detected", jsBool())),
		"EnableTrackingRequest": jsObj("Request body for enabling daemon-side head tracking.",
			jsOpt("weight", jsWith(jsNum(), "minimum", 0.0, "maximum", 1.0, "default", 1.0))),
		"FaceTarget": jsObj("Latest daemon-side face target used for head tracking (normalized coordinates -1..1).",
			jsOpt("detected", jsWith(jsBool(), "default", false)), jsOpt("x", jsNullable(jsNum())), jsOpt("y", jsNullable(jsNum())),
			jsOpt("roll", jsNullable(jsNum())), jsOpt("ts", jsNullable(jsNum()))),
		"FullBodyTarget": jsObj("The full body target: head pose, antennas and body yaw.",
			jsOpt("target_head_pose", jsNullable(jsHeadPose())), jsOpt("target_antennas", jsNullable(jsTuple(2, jsNum()))),
			jsOpt("target_body_yaw", jsNullable(jsNum())), jsOpt("timestamp", jsNullable(jsWith(jsStr(), "format", "date-time")))),
		"FullState": jsObj("The full state of the robot; only the fields asked for are set.",
			jsOpt("control_mode", jsNullable(motorMode)), jsOpt("head_pose", jsNullable(jsHeadPose())),
			jsOpt("head_joints", jsNullable(jsArr(jsNum()))), jsOpt("body_yaw", jsNullable(jsNum())),
			jsOpt("antennas_position", jsNullable(jsArr(jsNum()))), jsOpt("timestamp", jsNullable(jsWith(jsStr(), "format", "date-time"))),
			jsOpt("passive_joints", jsNullable(jsArr(jsNum()))), jsOpt("doa", jsNullable(jsRef("DoaSnapshot")))),
		"GotoModelRequest": jsObj("Request model for the goto endpoint.",
			jsOpt("head_pose", jsNullable(jsHeadPose())), jsOpt("antennas", jsNullable(jsTuple(2, jsNum()))),
			jsOpt("body_yaw", jsNullable(jsNum())), jsReq("duration", jsNum()),
			jsOpt("interpolation", jsWith(jsRef("InterpolationTechnique"), "default", "minjerk"))),
		"HTTPValidationError":    jsObj("", jsOpt("detail", jsArr(jsRef("ValidationError")))),
		"InterpolationTechnique": jsEnum("linear", "minjerk", "ease_in_out", "cartoon"),
		"JobInfo": jsObj("A background job's status and log.",
			jsReq("command", jsStr()), jsReq("status", jsRef("JobStatus")), jsReq("logs", jsArr(jsStr()))),
		"JobStatus":              jsEnum("pending", "in_progress", "done", "failed"),
		"Matrix4x4Pose":          jsObj("A 3D pose as its 4x4 transformation matrix, row-major (translation in meters).", jsReq("m", jsTuple(16, jsNum()))),
		"MockupSimBackendStatus": jsObj("Status of the mockup simulation backend.", jsReq("motor_control_mode", motorMode), jsOpt("error", jsNullable(jsStr()))),
		"MotorControlMode":       jsEnum("enabled", "disabled", "gravity_compensation"),
		"MotorStatus": jsObj("The motors' mode. reachyd adds \"motors\": per-motor health (hardware errors, voltage, temperature).",
			jsReq("mode", motorMode)),
		"MoveUUID":                   jsObj("A move's identifier.", jsReq("uuid", jsWith(jsStr(), "format", "uuid"))),
		"MujocoBackendStatus":        jsObj("Status of the MuJoCo backend.", jsReq("motor_control_mode", motorMode), jsOpt("error", jsNullable(jsStr()))),
		"PlaySoundRequest":           jsObj("Request body for play_sound.", jsReq("file", jsStr())),
		"PrivateSpaceInstallRequest": jsObj("Request model for installing a private Hugging Face space.", jsReq("space_id", jsStr())),
		"ReadAudioParameterResponse": jsObj("Response body for GET /api/audio/config/parameter/{name}.",
			jsReq("name", jsStr()), jsReq("values", jsArr(jsAnyOf(jsNum(), jsInt())))),
		"ResolutionInfo": jsObj("A camera resolution.",
			jsReq("name", jsStr()), jsReq("width", jsInt()), jsReq("height", jsInt()), jsReq("fps", jsInt()), jsReq("crop_factor", jsNum())),
		"RobotAppLockState":  jsEnum("free", "local_app", "remote_session"),
		"RobotAppLockStatus": jsObj("Who holds the robot.", jsReq("state", jsRef("RobotAppLockState")), jsOpt("holder_name", jsNullable(jsStr()))),
		"RobotBackendStatus": jsObj("Status of the robot backend.",
			jsReq("ready", jsBool()), jsReq("motor_control_mode", motorMode), jsReq("last_alive", jsNullable(jsNum())),
			jsReq("control_loop_stats", jsDict(nil)), jsOpt("error", jsNullable(jsStr()))),
		"RobotNameRequest":  jsObj("Body for setting the robot display name.", jsReq("name", jsWith(jsStr(), "minLength", 1, "maxLength", 64))),
		"RobotNameResponse": jsObj("The robot's current display name.", jsOpt("name", jsNullable(jsStr()))),
		"SourceKind":        jsEnum("hf_space", "dashboard_selection", "local", "installed"),
		"StartupApp":        jsObj("The app started after the robot's first wake-up (and by an antenna touch).", jsOpt("startup_app", jsNullable(jsStr()))),
		"TestSoundResponse": jsObj("Result of the test sound.", jsReq("status", jsStr()), jsReq("message", jsStr())),
		"TokenRequest":      jsObj("Request model for saving a Hugging Face token.", jsReq("token", jsStr())),
		"TokenResponse": jsObj("Response model for token operations.",
			jsReq("status", jsStr()), jsOpt("username", jsNullable(jsStr())), jsOpt("message", jsNullable(jsStr()))),
		"ValidationError": jsObj("",
			jsReq("loc", jsArr(jsAnyOf(jsStr(), jsInt()))), jsReq("msg", jsStr()), jsReq("type", jsStr()), jsOpt("input", jsAny()), jsOpt("ctx", schema{"type": "object"})),
		"VolumeRequest":  jsObj("Request model for setting a volume.", jsReq("volume", jsWith(jsInt(), "minimum", 0, "maximum", 100))),
		"VolumeResponse": jsObj("A volume.", jsReq("volume", jsInt()), jsReq("platform", jsStr()), jsReq("device", jsStr())),
		"XYZRPYPose": jsObj("A 3D pose: position (x, y, z) in meters and orientation (roll, pitch, yaw) in radians.",
			jsOpt("x", jsWith(jsNum(), "default", 0.0)), jsOpt("y", jsWith(jsNum(), "default", 0.0)), jsOpt("z", jsWith(jsNum(), "default", 0.0)),
			jsOpt("roll", jsWith(jsNum(), "default", 0.0)), jsOpt("pitch", jsWith(jsNum(), "default", 0.0)), jsOpt("yaw", jsWith(jsNum(), "default", 0.0))),

		// ---- reachyd's and the reference's untyped answers ----
		"HTTPError": jsObj("An error: {\"detail\": text} (FastAPI's HTTPException).", jsReq("detail", jsStr())),
		"JobStarted": jsObj("The job that carries out the request; follow it with GET /api/apps/job-status/{job_id}.",
			jsReq("job_id", jsStr())),
		"StatusOK":  jsObj("", jsReq("status", jsWith(jsStr(), "const", "ok"))),
		"Message":   jsObj("", jsReq("message", jsStr())),
		"CacheDone": jsObj("", jsReq("status", jsWith(jsStr(), "const", "success")), jsReq("message", jsStr())),
		"URDF":      jsObj("The robot description.", jsReq("urdf", jsDesc(jsStr(), "The contents of robot.urdf (XML)."))),
		"KinematicsInfo": jsObj("The kinematics engine.", jsReq("info", jsObj("",
			jsReq("engine", jsStr()), jsReq("collision check", jsBool())))),
		"HardwareID": jsObj("", jsReq("hardware_id", jsNullable(jsStr()))),
		"MediaStatus": jsObj("The media pipelines. reachyd adds a \"reachyd\" object (pipelines, sessions, devices).",
			jsReq("available", jsBool()), jsReq("released", jsBool()), jsReq("no_media", jsBool())),
		"SetTargetResult": jsObj("\"ignored\" with reason \"move_running\" while a move runs.",
			jsReq("status", jsEnum("ok", "ignored")), jsOpt("reason", jsStr())),
		"TrackingResult": jsObj("", jsReq("status", jsEnum("ok", "unavailable")), jsReq("enabled", jsBool())),
		"TrackedFace":    jsObj("", jsReq("status", jsStr()), jsReq("face_target", jsRef("FaceTarget"))),
		"SoundUploaded":  jsObj("", jsReq("status", jsWith(jsStr(), "const", "ok")), jsReq("path", jsStr())),
		"SoundList":      jsObj("", jsReq("files", jsArr(jsStr()))),
		"JobCancelling":  jsObj("reachyd extension.", jsReq("job_id", jsStr()), jsReq("status", jsWith(jsStr(), "const", "cancelling"))),
		"RebootMotors": jsObj("reachyd extension: the motors to reboot (default: every motor with a latched hardware error).",
			jsOpt("motors", jsNullable(jsArr(jsStr())))),
		"MotorsRebooted": jsObj("", jsReq("rebooted", jsArr(jsStr()))),
		"SkillsAuth": jsObj("A token for the skills API (pymirokai).",
			jsReq("token", jsStr()), jsReq("client_id", jsStr()), jsReq("access_level", jsStr())),
		"SkillsResult": jsObj("pymirokai's convention: the command's value.", jsReq("result", jsAny())),
		"SkillsCommand": jsObj("A typed command of the skills API: its name and its value.",
			jsReq("command", jsStr()), jsReq("value", jsAny())),
		"SkillsServices": jsObj("", jsReq("head", jsArr(jsStr())), jsReq("base", jsArr(jsStr()))),
		"SkillsService": jsObj("A service (one of reachyd's actors): its state, restarts and recent log lines.",
			jsReq("system", jsStr()), jsReq("service", jsStr()), jsReq("state", jsStr()), jsReq("restarts", jsInt()), jsReq("logs", jsArr(jsStr()))),
		"SkillFiles": jsObj("", jsReq("skills", jsArr(jsDict(nil)))),
		"SkillFileDone": jsObj("",
			jsReq("status", jsStr()), jsReq("skill_name", jsStr())),
		"SkillUpload":  jsObj("", jsReq("skill", jsWith(jsStr(), "format", "binary"))),
		"CameraStatus": jsDict(nil),
	}
}
