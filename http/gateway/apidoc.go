package gateway

// GET /openapi.json describes reachyd's whole API, and GET /docs renders it
// (docs_page.go). The document is built from Echo's route table, so it lists
// exactly the routes this daemon serves in its configuration (the wireless
// routes only with --wireless-version, the skills API only with its keys),
// each described by its entry in apiDocs below. A route without an entry is
// still listed, marked "x-undocumented"; a test (apidoc_test.go) fails on
// any such route and on any entry no configuration registers, so the
// document cannot drift from the code. Another test checks the entries of
// the reference's routes against the reference's own OpenAPI document.
//
// WebSocket routes are GET operations with "x-websocket": true and their
// frames described in words (OpenAPI has no WebSocket model).

import (
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// param documents one query or path parameter (path parameters without an
// entry are strings).
type param struct {
	name, in string
	required bool
	s        schema
	desc     string
}

func qParam(name string, s schema, desc string) param { return param{name, "query", false, s, desc} }
func qParamReq(name string, s schema, desc string) param {
	return param{name, "query", true, s, desc}
}
func pParam(name string, s schema) param { return param{name, "path", true, s, ""} }

// opDoc documents one operation.
type opDoc struct {
	tag, summary, desc string
	params             []param
	// body is the request body's schema; bodyType its media type (default
	// application/json); bodyOptional: a body may be left out.
	body         schema
	bodyType     string
	bodyOptional bool
	// resp is the 200 answer's schema (nil: none described); respType its
	// media type (default application/json).
	resp     schema
	respType string
	// errs are the error statuses and when they happen; a 422 is the
	// reference's validation error, the others {"detail": text}.
	errs map[int]string
	// ws describes a WebSocket's frames (the operation is the upgrade).
	ws string
	// auth: the skills API's bearer token; apiKey: its X-API-Key.
	auth, apiKey bool
	// ext marks reachyd's own routes (not in the reference).
	ext bool
}

// Common error descriptions.
const (
	eBackend    = "Backend not running: the robot backend is stopped or starting."
	eValidation = "Validation error: a parameter or the body does not match the schema."
	eNoMedia    = "The media are released, or reachyd runs without media."
)

var v1Kinds = []string{"str", "int", "float", "bool", "list", "dict"}

// apiDocs documents every route, keyed "METHOD /path" with OpenAPI path
// templates ({name}).
var apiDocs = func() map[string]opDoc {
	d := map[string]opDoc{
		// ---- root ----
		"GET /": {tag: "root", summary: "Dashboard", respType: "text/html",
			desc: "The reference's \"Web Dashboard Deprecated\" page: use the desktop or mobile app, the SDK, or this API."},
		"POST /health-check": {tag: "root", summary: "Health check", resp: jsRef("StatusOK"),
			desc: "With --timeout-health-check, the daemon stops when no health check arrives in time."},
		"GET /ws/sdk": {tag: "root", summary: "SDK WebSocket", ws: "The Python SDK's transport (daemon-api section 2): the server pushes " +
			"joint_positions and head_pose every control tick, daemon_status at 1 Hz, task_progress, recorded_data and broadcasts; " +
			"the client sends typed commands ({\"type\": ...}), which get no reply on this transport. Closed with 1013 " +
			"\"Daemon not ready\" before the daemon runs."},
		"GET /openapi.json": {tag: "docs", summary: "OpenAPI document", ext: true, resp: jsDict(nil),
			desc: "This document: reachyd's whole HTTP API as served by this daemon in its configuration."},
		"GET /docs": {tag: "docs", summary: "API documentation", respType: "text/html", ext: true,
			desc: "A page that renders /openapi.json; it loads nothing from other sites (the robot may be offline)."},
		"GET /redoc": {tag: "docs", summary: "API documentation (alias)", respType: "text/html", ext: true,
			desc: "The same page as /docs, where FastAPI serves ReDoc."},
		"GET /docs/docs.js":  {tag: "docs", summary: "The documentation page's script", respType: "text/javascript", ext: true},
		"GET /docs/docs.css": {tag: "docs", summary: "The documentation page's style sheet", respType: "text/css", ext: true},

		// ---- daemon ----
		"POST /api/daemon/start": {tag: "daemon", summary: "Start the robot backend", resp: jsRef("JobStarted"),
			params: []param{qParamReq("wake_up", jsBool(), "Play the wake-up sequence once started.")},
			errs:   map[int]string{409: "Daemon is busy.", 422: eValidation}},
		"POST /api/daemon/stop": {tag: "daemon", summary: "Stop the robot backend", resp: jsRef("JobStarted"),
			params: []param{qParamReq("goto_sleep", jsBool(), "Play the sleep sequence first (the running app is stopped first).")},
			errs:   map[int]string{409: "Daemon is busy.", 422: eValidation}},
		"POST /api/daemon/restart": {tag: "daemon", summary: "Restart the robot backend", resp: jsRef("JobStarted"),
			desc: "Stop without sleep, then start without wake-up; nothing from stopped.", errs: map[int]string{409: "Daemon is busy."}},
		"POST /api/daemon/simulation/reset": {tag: "daemon", summary: "Reset the physics simulation (reachyd)",
			resp: jsObj("", jsReq("status", jsStr())),
			desc: "With --sim in a MuJoCo build: the model back in its initial state (the sleep pose, time 0).",
			errs: map[int]string{404: "No physics simulation.", 409: "The simulation is not running."}},
		"GET /api/daemon/status":      {tag: "daemon", summary: "Daemon status", resp: jsRef("DaemonStatus")},
		"GET /api/daemon/robot-name":  {tag: "daemon", summary: "Robot display name", resp: jsRef("RobotNameResponse")},
		"POST /api/daemon/robot-name": {tag: "daemon", summary: "Set the robot display name", body: jsRef("RobotNameRequest"), resp: jsRef("RobotNameResponse"), errs: map[int]string{422: eValidation}},
		"GET /api/daemon/hardware-id": {tag: "daemon", summary: "Hardware id", resp: jsRef("HardwareID")},
		"GET /api/daemon/robot-app-lock-status": {tag: "daemon", summary: "Robot app lock", resp: jsRef("RobotAppLockStatus"),
			desc: "Who holds the robot: nobody, a local app, or a remote session."},

		// ---- apps and jobs ----
		"GET /api/apps/list-available/{source_kind}": {tag: "apps", summary: "Apps of one source", resp: jsArr(jsRef("AppInfo")),
			params: []param{pParam("source_kind", jsRef("SourceKind"))}, errs: map[int]string{422: eValidation, 503: "The Hugging Face catalogue is unreachable."}},
		"GET /api/apps/list-available": {tag: "apps", summary: "All available apps", resp: jsArr(jsRef("AppInfo")),
			desc: "The catalogue (curated selection and spaces, without duplicates) and the installed apps; installed apps only when offline."},
		"POST /api/apps/install": {tag: "apps", summary: "Install an app", body: jsRef("AppInfo"), resp: jsRef("JobStarted"),
			desc: "From a Hugging Face space (source_kind hf_space, extra.id), or, as a reachyd extension, from a local folder or archive " +
				"(source_kind local, extra.path, inside --apps-local-dir or over the unix socket).",
			errs: map[int]string{400: "Not installable from this source.", 403: "A local path outside --apps-local-dir.", 409: "The app runs, or the space holds another app.", 422: eValidation}},
		"POST /api/apps/install-private-space": {tag: "apps", summary: "Install a private space", body: jsRef("PrivateSpaceInstallRequest"), resp: jsRef("JobStarted"),
			errs: map[int]string{401: "No HuggingFace token found. Please authenticate first.", 409: "The app runs.", 422: eValidation}},
		"POST /api/apps/remove/{app_name}": {tag: "apps", summary: "Remove an app", resp: jsRef("JobStarted"), params: []param{pParam("app_name", jsStr())}},
		"POST /api/apps/update/{app_name}": {tag: "apps", summary: "Update an app from its space", resp: jsRef("JobStarted"),
			params: []param{pParam("app_name", jsStr())}, errs: map[int]string{409: "The app runs."}},
		"POST /api/apps/start-app/{app_name}": {tag: "apps", summary: "Start an app", resp: jsRef("AppStatus"), params: []param{pParam("app_name", jsStr())},
			desc: "Evicts a remote session that holds the robot.", errs: map[int]string{400: "An app runs already, or the app cannot start.", 404: "Not installed."}},
		"POST /api/apps/start-app/{app_name}/no-evict": {tag: "apps", summary: "Start an app without evicting", resp: jsRef("AppStatus"),
			params: []param{pParam("app_name", jsStr())}, errs: map[int]string{400: "An app runs already, the robot is taken, or the app cannot start.", 404: "Not installed."}},
		"POST /api/apps/restart-current-app": {tag: "apps", summary: "Restart the running app", resp: jsRef("AppStatus"), errs: map[int]string{400: "No app is currently running"}},
		"POST /api/apps/stop-current-app":    {tag: "apps", summary: "Stop the running app", resp: jsNull(), errs: map[int]string{400: "No app is currently running"}},
		"GET /api/apps/current-app-status":   {tag: "apps", summary: "The running app", resp: jsNullable(jsRef("AppStatus"))},
		"GET /api/apps/startup-app":          {tag: "apps", summary: "The startup app", resp: jsRef("StartupApp")},
		"PUT /api/apps/startup-app": {tag: "apps", summary: "Set the startup app", body: jsRef("StartupApp"), resp: jsRef("StartupApp"),
			desc: "Started after the first wake-up, and when a hand pushes an antenna of an idle robot; installed from the catalogue at start if missing.",
			errs: map[int]string{400: "App '<name>' is not installed", 422: eValidation}},
		"GET /api/apps/check-updates": {tag: "apps", summary: "Check installed spaces for updates", resp: jsRef("AppUpdatesResponse"),
			params: []param{qParam("force", jsWith(jsBool(), "default", false), "Skip the 5-minute cache.")}, errs: map[int]string{422: eValidation, 503: "The Hugging Face API is unreachable."}},
		"GET /api/apps/job-status/{job_id}": {tag: "jobs", summary: "A job's status and log", resp: jsRef("JobInfo"),
			params: []param{pParam("job_id", jsStr())}, errs: map[int]string{404: "Job ID not found"}},
		"POST /api/apps/cancel-job/{job_id}": {tag: "jobs", summary: "Cancel a job", ext: true, resp: jsRef("JobCancelling"),
			desc:   "Stops an install, update or removal (the job fails \"cancelled\"), or the app whose job it is.",
			params: []param{pParam("job_id", jsStr())}, errs: map[int]string{400: "Job already finished", 404: "Job ID not found"}},
		"GET /api/apps/ws/apps-manager/{job_id}": {tag: "jobs", summary: "A job's log stream", params: []param{pParam("job_id", jsStr())},
			ws: "Each new log line as a text frame, then {\"command\", \"status\", \"logs\": [the new lines]}; closes after the job ends. " +
				"An unknown job gets {\"error\": \"Job ID not found\"} and the close. reachyd replays the lines logged before the client came."},

		// ---- state ----
		"GET /api/state/present_head_pose": {tag: "state", summary: "Head pose", resp: jsHeadPose(),
			params: []param{qParam("use_pose_matrix", jsWith(jsBool(), "default", false), "A 4x4 matrix instead of x, y, z, roll, pitch, yaw.")},
			errs:   map[int]string{422: eValidation, 503: eBackend}},
		"GET /api/state/present_body_yaw": {tag: "state", summary: "Body yaw (rad)", resp: jsNum(), errs: map[int]string{503: eBackend}},
		"GET /api/state/present_antenna_joint_positions": {tag: "state", summary: "Antenna positions (rad)", resp: jsTuple(2, jsNum()),
			desc: "In the backend's order, which the SDK calls [right, left].", errs: map[int]string{503: eBackend}},
		"GET /api/state/doa": {tag: "state", summary: "Sound direction of arrival", resp: jsNullable(jsRef("DoaSnapshot")),
			desc: "null without a ReSpeaker board or before its first reading.", errs: map[int]string{503: eBackend}},
		"GET /api/state/full": {tag: "state", summary: "Full state", resp: jsRef("FullState"), params: fullStateParams(false),
			errs: map[int]string{422: eValidation, 503: eBackend}},
		"GET /api/state/ws/full": {tag: "state", summary: "Full state stream", params: fullStateParams(true),
			ws: "FullState frames at the asked frequency (Hz), as GET /api/state/full answers. Refused (503) without a backend."},

		// ---- move ----
		"GET /api/move/running": {tag: "move", summary: "Running moves", resp: jsArr(jsRef("MoveUUID"))},
		"POST /api/move/goto": {tag: "move", summary: "Go to a target", body: jsRef("GotoModelRequest"), resp: jsRef("MoveUUID"),
			desc: "reachyd honours interpolation (the reference ignores it here).", errs: map[int]string{400: "An unreachable target, or a head_pose that is not rigid.", 409: "Another move runs.", 422: eValidation, 503: eBackend}},
		"POST /api/move/play/wake_up":    {tag: "move", summary: "Wake up", resp: jsRef("MoveUUID"), errs: map[int]string{409: "Another move runs.", 503: eBackend}},
		"POST /api/move/play/goto_sleep": {tag: "move", summary: "Go to sleep", resp: jsRef("MoveUUID"), errs: map[int]string{409: "Another move runs.", 503: eBackend}},
		"GET /api/move/recorded-move-datasets/list/{dataset_name}": {tag: "move", summary: "Moves of a dataset", resp: jsArr(jsStr()),
			desc: "dataset_name is \"<org>/<name>\" (its slash included).", params: []param{pParam("dataset_name", jsStr())},
			errs: map[int]string{404: "No such dataset on disk.", 503: eBackend}},
		"POST /api/move/play/recorded-move-dataset/{dataset_name}/{move_name}": {tag: "move", summary: "Play a recorded move", resp: jsRef("MoveUUID"),
			params: []param{pParam("dataset_name", jsStr()), pParam("move_name", jsStr())}, errs: map[int]string{404: "No such dataset or move.", 409: "Another move runs.", 503: eBackend}},
		"POST /api/move/stop": {tag: "move", summary: "Stop a move", body: jsRef("MoveUUID"), resp: jsRef("Message"),
			desc: "reachyd answers 404 for an unknown uuid (the reference 500).", errs: map[int]string{404: "No such move.", 422: eValidation, 503: eBackend}},
		"POST /api/move/set_target": {tag: "move", summary: "Set the target", body: jsRef("FullBodyTarget"), resp: jsRef("SetTargetResult"),
			errs: map[int]string{422: eValidation, 503: eBackend}},
		"GET /api/move/ws/updates": {tag: "move", summary: "Move events",
			ws: "{\"type\": \"move_started\" | \"move_completed\" | \"move_failed\" | \"move_cancelled\", \"uuid\", \"details\"} for each move; client frames are ignored."},
		"GET /api/move/ws/set_target": {tag: "move", summary: "Target stream",
			ws: "The client sends FullBodyTarget text frames; the newest wins at each control tick. Only errors are answered. Refused (503) without a backend."},
		"GET /api/move/ws/raw/write": {tag: "move", summary: "Raw Dynamixel packets",
			ws: "Binary Protocol 2.0 instruction packets in, status packets out; only with --allow-raw-bus, and instructions that could brick a motor are refused."},

		// ---- motors ----
		"GET /api/motors/status": {tag: "motors", summary: "Motor mode", resp: jsRef("MotorStatus"), errs: map[int]string{503: eBackend}},
		"POST /api/motors/set_mode/{mode}": {tag: "motors", summary: "Set the motor mode", resp: jsRef("StatusOK"),
			desc:   "Answers {\"status\": \"motors changed to MotorControlMode.<Name> mode\"}.",
			params: []param{pParam("mode", jsRef("MotorControlMode"))}, errs: map[int]string{422: eValidation, 500: "The mode could not be set (gravity compensation needs Placo).", 503: eBackend}},
		"POST /api/motors/reboot": {tag: "motors", summary: "Reboot motors", ext: true, body: jsRef("RebootMotors"), bodyOptional: true, resp: jsRef("MotorsRebooted"),
			desc: "Reboots motors with a latched hardware error (all of them without a body).", errs: map[int]string{422: eValidation, 503: eBackend}},

		// ---- kinematics ----
		"GET /api/kinematics/info": {tag: "kinematics", summary: "Kinematics engine", resp: jsRef("KinematicsInfo"), errs: map[int]string{503: eBackend}},
		"GET /api/kinematics/urdf": {tag: "kinematics", summary: "Robot description (URDF)", resp: jsRef("URDF"),
			desc: "From --description-dir or where the reference's reachy_mini package is installed; reachyd answers without a running backend.",
			errs: map[int]string{404: "No robot description installed."}},
		"GET /api/kinematics/stl/{filename}": {tag: "kinematics", summary: "A mesh of the robot description", respType: "model/stl",
			params: []param{pParam("filename", jsStr())}, errs: map[int]string{404: "STL file not found <path>"}},

		// ---- media ----
		"GET /api/media/status":   {tag: "media", summary: "Media status", resp: jsRef("MediaStatus")},
		"POST /api/media/release": {tag: "media", summary: "Release the camera and audio devices", resp: jsRef("StatusOK")},
		"POST /api/media/acquire": {tag: "media", summary: "Take the camera and audio devices back", resp: jsRef("StatusOK")},
		"POST /api/media/play_sound": {tag: "media", summary: "Play a sound", body: jsRef("PlaySoundRequest"), resp: jsRef("StatusOK"),
			desc: "A name in the uploaded sounds, or one of the daemon's own sounds.", errs: map[int]string{422: eValidation, 503: eBackend}},
		"POST /api/media/stop_sound":           {tag: "media", summary: "Stop the sound", resp: jsRef("StatusOK"), errs: map[int]string{503: eBackend}},
		"POST /api/media/clear_incoming_audio": {tag: "media", summary: "Drop the consumers' queued audio", resp: jsRef("StatusOK"), errs: map[int]string{503: eBackend}},
		"POST /api/media/wobbling/enable":      {tag: "media", summary: "Head wobble with speech on", resp: jsRef("StatusOK"), errs: map[int]string{503: eBackend}},
		"POST /api/media/wobbling/disable":     {tag: "media", summary: "Head wobble with speech off", resp: jsRef("StatusOK"), errs: map[int]string{503: eBackend}},
		"POST /api/media/tracking/enable": {tag: "media", summary: "Head tracking on", body: jsNullable(jsRef("EnableTrackingRequest")), bodyOptional: true,
			resp: jsRef("TrackingResult"), errs: map[int]string{422: eValidation, 503: eBackend}},
		"POST /api/media/tracking/disable": {tag: "media", summary: "Head tracking off", resp: jsRef("TrackingResult"), errs: map[int]string{503: eBackend}},
		"GET /api/media/tracking/face":     {tag: "media", summary: "The tracked face", resp: jsRef("TrackedFace"), errs: map[int]string{503: eBackend}},
		"POST /api/media/sounds/upload": {tag: "media", summary: "Upload a sound", body: jsRef("Body_upload_sound_api_media_sounds_upload_post"),
			bodyType: "multipart/form-data", resp: jsRef("SoundUploaded"),
			errs: map[int]string{400: "Invalid filename, unsupported extension, or not audio.", 413: "Request body too large; maximum is 26214400 bytes", 422: eValidation}},
		"GET /api/media/sounds": {tag: "media", summary: "Uploaded sounds", resp: jsRef("SoundList")},
		"DELETE /api/media/sounds/{filename}": {tag: "media", summary: "Delete an uploaded sound", resp: jsRef("StatusOK"),
			params: []param{pParam("filename", jsStr())}, errs: map[int]string{400: "Invalid filename", 404: "File '<name>' not found"}},
		"GET /api/volume/current": {tag: "volume", summary: "Speaker volume", resp: jsRef("VolumeResponse"), errs: map[int]string{500: "Failed to get volume"}},
		"POST /api/volume/set": {tag: "volume", summary: "Set the speaker volume", body: jsRef("VolumeRequest"), resp: jsRef("VolumeResponse"),
			errs: map[int]string{422: eValidation, 500: "Failed to set volume"}},
		"POST /api/volume/test-sound": {tag: "volume", summary: "Play a test sound", resp: jsRef("TestSoundResponse"),
			errs: map[int]string{500: "Failed to play test sound (see logs for details)", 503: eBackend}},
		"GET /api/volume/microphone/current": {tag: "volume", summary: "Microphone volume", resp: jsRef("VolumeResponse"), errs: map[int]string{500: "Failed to get microphone volume"}},
		"POST /api/volume/microphone/set": {tag: "volume", summary: "Set the microphone volume", body: jsRef("VolumeRequest"), resp: jsRef("VolumeResponse"),
			errs: map[int]string{422: eValidation, 500: "Failed to set microphone volume"}},
		"GET /api/camera/specs": {tag: "camera", summary: "Camera specifications", resp: jsRef("CameraSpecsResponse")},
		"POST /api/audio/config/apply": {tag: "audio", summary: "Apply an audio board configuration", body: jsRef("ApplyAudioConfigRequest"),
			resp: jsRef("ApplyAudioConfigResponse"), errs: map[int]string{422: eValidation, 500: "apply_audio_config failed: ...", 503: "ReSpeaker audio board not available"}},
		"GET /api/audio/config/parameter/{name}": {tag: "audio", summary: "Read an audio board parameter", resp: jsRef("ReadAudioParameterResponse"),
			params: []param{pParam("name", jsStr())}, errs: map[int]string{404: "Parameter '<name>' could not be read", 500: "read_audio_parameter failed: ...", 503: "ReSpeaker audio board not available"}},

		// ---- cache and logs (the reference's wireless routers) ----
		"POST /cache/reset-apps": {tag: "cache", summary: "Remove every installed app", resp: jsRef("CacheDone"),
			desc: "reachyd's installed apps (<data-dir>/apps); served in every mode (the reference only with --wireless-version). " +
				"Message \"Applications virtual environment removed\" or \"Virtual environment directory already empty\".",
			errs: map[int]string{409: "An app runs, or an install, update or removal is under way.", 500: "The apps could not be removed."}},
		"POST /cache/clear-hf": {tag: "cache", summary: "Clear the Hugging Face cache", resp: jsRef("CacheDone"),
			desc: "Wireless only. Removes the repositories of the Hugging Face hub cache (datasets, apps' spaces), not the token. " +
				"Message \"HuggingFace cache cleared\" or \"Cache directory already empty\".",
			errs: map[int]string{500: "The cache could not be cleared."}},
		"GET /logs/ws/daemon": {tag: "logs", summary: "The daemon's log",
			ws: "The last 100 lines, then each new one, one text frame per line (\"<ISO time> <rest>\"); an empty frame after each second of silence. " +
				"Under systemd, the journal of reachyd's unit (journalctl); otherwise reachyd's own log lines. Without journalctl: " +
				"\"ERROR: journalctl command not found. This feature requires systemd.\" and the close."},
	}
	// ---- the skills API (pymirokai) ----
	d["GET /status"] = opDoc{tag: "skills", summary: "Service status", ext: true, resp: jsRef("StatusOK")}
	d["GET /api/v1/auth/"] = opDoc{tag: "skills", summary: "Exchange an API key for a token", ext: true, apiKey: true, resp: jsRef("SkillsAuth"),
		desc: "X-API-Key: a key made with `reachyd keys`; trusted local callers on the unix socket need none.", errs: map[int]string{401: "Missing or wrong key."}}
	d["GET /api/v1/service/get_services_list"] = opDoc{tag: "skills", summary: "Services", ext: true, resp: jsRef("SkillsServices")}
	d["GET /api/v1/service/{system}/{service}"] = opDoc{tag: "skills", summary: "A service's state and recent log lines", ext: true,
		resp: jsRef("SkillsService"), params: []param{pParam("system", jsStr()), pParam("service", jsStr())}, errs: map[int]string{404: "No such service."}}
	d["GET /api/v1/get/{command}"] = opDoc{tag: "skills", summary: "A query command", ext: true, auth: true, resp: jsRef("SkillsResult"),
		desc: "get_skills, get_skill_manager_errors, cancel_client_missions, list_running_missions, list_running_auto_start_skills, " +
			"get_character_name, get_language, get_publishers, is_sleeping. The answer's Authorization header holds a fresh token.",
		params: []param{pParam("command", jsStr())}, errs: map[int]string{401: "Not authenticated.", 404: "Unknown command.", 501: "A Mirokai-only command."}}
	for _, k := range v1Kinds {
		d["POST /api/v1/"+k+"/"] = opDoc{tag: "skills", summary: "A " + k + " command", ext: true, auth: true, body: jsRef("SkillsCommand"), resp: jsRef("SkillsResult"),
			desc: "The value is a " + k + ". dict: skill (run a skill: value {name, keyword arguments}); str: wait_for_skill, wait_for_skill_started, cancel_skill, cancel_and_wait_for_mission, cancel_auto_start_skill.",
			errs: map[int]string{401: "Not authenticated.", 403: "Access level too low.", 404: "Unknown command.", 422: eValidation}}
	}
	d["POST /api/v1/skill/upload/"] = opDoc{tag: "skills", summary: "Upload a skill file", ext: true, auth: true, body: jsRef("SkillUpload"),
		bodyType: "multipart/form-data", resp: jsRef("SkillFileDone"), desc: "ADMIN access or better; at most 1 MiB.",
		errs: map[int]string{401: "Not authenticated.", 403: "Access level too low.", 413: "Too large.", 422: "No part named \"skill\"."}}
	d["GET /api/v1/skill/list/"] = opDoc{tag: "skills", summary: "Skill files", ext: true, auth: true, resp: jsRef("SkillFiles"), errs: map[int]string{401: "Not authenticated."}}
	d["PATCH /api/v1/skill/enable/"] = opDoc{tag: "skills", summary: "Enable or disable a skill file", ext: true, auth: true, body: jsRef("SkillsCommand"),
		resp: jsRef("SkillFileDone"), desc: "Body {\"command\": <file name>, \"value\": <enable>}.", errs: map[int]string{401: "Not authenticated.", 403: "Access level too low.", 404: "No such file.", 422: eValidation}}
	d["DELETE /api/v1/skill/remove/"] = opDoc{tag: "skills", summary: "Remove a skill file", ext: true, auth: true, resp: jsRef("SkillFileDone"),
		params: []param{qParamReq("skill_name", jsStr(), "The file's name.")}, errs: map[int]string{401: "Not authenticated.", 403: "Access level too low.", 404: "No such file.", 422: eValidation}}
	mjpeg := opDoc{tag: "video", summary: "Camera as MJPEG", ext: true, auth: true, respType: "multipart/x-mixed-replace",
		params: []param{qParam("token", jsStr(), "The bearer token, for an <img> that cannot send headers.")}, errs: map[int]string{401: "Not authenticated."}}
	d["GET /api/v1/video/head_color.mjpg"] = mjpeg
	d["HEAD /api/v1/video/head_color.mjpg"] = mjpeg
	d["GET /api/v1/video/head_color.jpg"] = opDoc{tag: "video", summary: "A camera snapshot", ext: true, auth: true, respType: "image/jpeg",
		params: mjpeg.params, errs: map[int]string{401: "Not authenticated.", 503: "No frame yet."}}
	d["GET /api/v1/video/status"] = opDoc{tag: "video", summary: "Camera status", ext: true, auth: true, resp: jsRef("CameraStatus"),
		params: mjpeg.params, errs: map[int]string{401: "Not authenticated.", 404: "No camera"}}
	return d
}()

func fullStateParams(stream bool) []param {
	b := func(name string, def bool, what string) param {
		return qParam(name, jsWith(jsBool(), "default", def), what)
	}
	ps := []param{
		b("with_control_mode", true, "Include the motor mode."),
		b("with_head_pose", true, "Include the head pose."),
		b("with_target_head_pose", false, "Include the target head pose."),
		b("with_head_joints", false, "Include the head joints."),
		b("with_target_head_joints", false, "Include the target head joints."),
		b("with_body_yaw", true, "Include the body yaw."),
		b("with_target_body_yaw", false, "Include the target body yaw."),
		b("with_antenna_positions", true, "Include the antenna positions."),
		b("with_target_antenna_positions", false, "Include the target antenna positions."),
		b("with_passive_joints", false, "Include the passive joints."),
		b("with_doa", false, "Include the sound direction of arrival."),
		b("use_pose_matrix", false, "Poses as 4x4 matrices."),
	}
	if stream {
		ps = append(ps[1:], qParam("frequency", jsWith(jsNum(), "default", 10.0), "Frames per second."))
	}
	return ps
}

// openAPIPath turns an Echo route path into an OpenAPI path template.
func openAPIPath(p string) string {
	switch p {
	case "/api/move/recorded-move-datasets/list/*":
		return "/api/move/recorded-move-datasets/list/{dataset_name}"
	case "/api/move/play/recorded-move-dataset/*":
		return "/api/move/play/recorded-move-dataset/{dataset_name}/{move_name}"
	}
	p = echoParam.ReplaceAllString(p, "{$1}")
	return strings.ReplaceAll(p, "*", "{path}")
}

var (
	echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)
	tmplParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)
)

// docFor finds a route's entry: its path as registered, or its twin with
// or without the trailing slash (the skills API serves both).
func docFor(method, p string) (key string, d opDoc, ok bool) {
	key = method + " " + p
	if d, ok = apiDocs[key]; ok {
		return key, d, true
	}
	twin := p + "/"
	if strings.HasSuffix(p, "/") {
		twin = strings.TrimSuffix(p, "/")
	}
	key = method + " " + twin
	d, ok = apiDocs[key]
	return key, d, ok
}

// docRoutes serves the document and its page.
func (g *Gateway) docRoutes() {
	g.e.GET("/openapi.json", g.openAPI)
	g.e.GET("/docs", g.docsPage)
	g.e.GET("/redoc", g.docsPage)
	g.e.GET("/docs/docs.js", g.docsAsset("docs.js", "text/javascript; charset=utf-8"))
	g.e.GET("/docs/docs.css", g.docsAsset("docs.css", "text/css; charset=utf-8"))
}

type apiDocCache struct {
	once sync.Once
	b    []byte
}

func (g *Gateway) openAPI(c echo.Context) error {
	d := &g.surface.apiDoc
	d.once.Do(func() { d.b, _ = json.Marshal(g.OpenAPI()) })
	return jsonBytes(c, d.b)
}

// routeTable is Echo's route table without its internal entries (the
// "route not found" handlers a group with middleware adds).
func (g *Gateway) routeTable() []*echo.Route {
	var out []*echo.Route
	for _, r := range g.e.Routes() {
		if r.Method != echo.RouteNotFound {
			out = append(out, r)
		}
	}
	return out
}

// undocumented lists the registered routes without an entry in apiDocs.
func (g *Gateway) undocumented() []string {
	var out []string
	for _, r := range g.routeTable() {
		if _, _, ok := docFor(r.Method, openAPIPath(r.Path)); !ok {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	sort.Strings(out)
	return out
}

// OpenAPI builds the document from the routes registered now.
func (g *Gateway) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	usedTags := map[string]bool{}
	for _, r := range g.routeTable() {
		p := openAPIPath(r.Path)
		key, d, ok := docFor(r.Method, p)
		if ok {
			p = key[strings.IndexByte(key, ' ')+1:]
		}
		method := strings.ToLower(r.Method)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		if _, dup := paths[p][method]; dup {
			continue // the twin of a route already described
		}
		op := operation(r.Method, p, d, ok)
		paths[p][method] = op
		usedTags[op["tags"].([]any)[0].(string)] = true
	}
	var tags []any
	for _, t := range tagOrder {
		if usedTags[t.name] {
			tags = append(tags, map[string]any{"name": t.name, "description": t.desc})
		}
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "reachyd",
			"version": g.cfg.Version,
			"description": "The HTTP and WebSocket API of reachyd, a daemon for the Reachy Mini robot, wire-compatible with the official " +
				"daemon's (version " + g.cfg.Version + "): its routes are listed with the reference's models; reachyd's own routes are " +
				"marked x-reachyd-extension. Errors are {\"detail\": text}, validation errors 422 {\"detail\": [...]}. " +
				"Not in this document: the topic bus WebSocket (--topics-port, default 8001), the WebRTC signalling server " +
				"(--webrtc-port, default 8443) and RTSP (--rtsp-port, default 8554).",
		},
		"tags":  tags,
		"paths": paths,
		"components": map[string]any{
			"schemas": components(),
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "A token from GET /api/v1/auth/."},
				"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key"},
			},
		},
	}
}

type tagDoc struct{ name, desc string }

var tagOrder = []tagDoc{
	{"root", "The daemon's root routes."},
	{"daemon", "The robot backend's lifecycle and the daemon's status."},
	{"state", "The robot's state."},
	{"move", "Moves: goto, wake-up and sleep, recorded moves, targets."},
	{"motors", "Motor modes and health."},
	{"kinematics", "The kinematics engine and the robot description."},
	{"media", "Sounds, tracking and the media pipelines."},
	{"volume", "Speaker and microphone volumes."},
	{"camera", "The camera."},
	{"audio", "The ReSpeaker audio board."},
	{"apps", "Apps: catalogue, installs, the running app, the startup app."},
	{"jobs", "Background jobs (installs, updates, removals, daemon start and stop)."},
	{"cache", "reachyd's caches (the reference's wireless cache router)."},
	{"logs", "The daemon's log."},
	{"skills", "The skills API of pymirokai's RestAPI (Bearer tokens from API keys)."},
	{"video", "The camera for browsers (MJPEG)."},
	{"docs", "This documentation."},
	{"other", "Routes served but not yet documented."},
}

// operation renders one entry.
func operation(method, p string, d opDoc, documented bool) map[string]any {
	op := map[string]any{
		"operationId": operationID(method, p),
		"responses":   map[string]any{},
	}
	if !documented {
		op["tags"] = []any{"other"}
		op["summary"] = "(not documented yet)"
		op["x-undocumented"] = true
		op["responses"] = map[string]any{"default": map[string]any{"description": "Not documented."}}
		return op
	}
	op["tags"] = []any{d.tag}
	op["summary"] = d.summary
	if d.desc != "" {
		op["description"] = d.desc
	}
	if d.ext {
		op["x-reachyd-extension"] = true
	}
	// Parameters: the documented ones, then the path's others as strings.
	var params []any
	seen := map[string]bool{}
	for _, pr := range d.params {
		seen[pr.in+":"+pr.name] = true
		m := map[string]any{"name": pr.name, "in": pr.in, "required": pr.required, "schema": pr.s}
		if pr.desc != "" {
			m["description"] = pr.desc
		}
		params = append(params, m)
	}
	for _, m := range tmplParam.FindAllStringSubmatch(p, -1) {
		if !seen["path:"+m[1]] {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": jsStr()})
		}
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if d.body != nil {
		bt := d.bodyType
		if bt == "" {
			bt = "application/json"
		}
		op["requestBody"] = map[string]any{"required": !d.bodyOptional, "content": map[string]any{bt: map[string]any{"schema": d.body}}}
	}
	resps := op["responses"].(map[string]any)
	if d.ws != "" {
		op["x-websocket"] = true
		op["description"] = strings.TrimSpace(d.desc + " WebSocket: " + d.ws)
		resps["101"] = map[string]any{"description": "Switching Protocols (WebSocket). " + d.ws}
	} else {
		ok := map[string]any{"description": "Successful Response"}
		rt := d.respType
		if rt == "" {
			rt = "application/json"
		}
		s := d.resp
		if s == nil {
			s = schema{}
			if rt == "model/stl" || strings.HasPrefix(rt, "image/") || strings.HasPrefix(rt, "multipart/") {
				s = jsWith(jsStr(), "format", "binary")
			} else if rt != "application/json" {
				s = jsStr()
			}
		}
		ok["content"] = map[string]any{rt: map[string]any{"schema": s}}
		resps["200"] = ok
	}
	for code, text := range d.errs {
		s := jsRef("HTTPError")
		if code == 422 {
			s = jsRef("HTTPValidationError")
		}
		resps[strconv.Itoa(code)] = map[string]any{"description": text, "content": map[string]any{"application/json": map[string]any{"schema": s}}}
	}
	if d.auth {
		op["security"] = []any{map[string]any{"bearer": []any{}}}
		if _, has := resps["401"]; !has {
			resps["401"] = map[string]any{"description": "Not authenticated.", "content": map[string]any{"application/json": map[string]any{"schema": jsRef("HTTPError")}}}
		}
	}
	if d.apiKey {
		op["security"] = []any{map[string]any{"apiKey": []any{}}}
	}
	return op
}

// operationID is a unique id from the method and path, e.g.
// get_api_daemon_status.
func operationID(method, p string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, r := range p {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.TrimRight(b.String(), "_")
}
