package gateway

// The wireless robot's update and Wi-Fi routes (with --wireless-version),
// for the live API document.

func init() {
	const eNM = "NetworkManager is not reachable."
	const eBusy = "Another operation is in progress."
	const eSource = "The release index could not be fetched or verified."
	pre := qParam("pre_release", jsBool(), "Consider pre-releases too (default false).")
	ref := qParamReq("git_ref", jsStr(), "A release's version, v<version>, or a name in its refs.")
	job := jsObj("An update job", jsReq("job_id", jsStr()))
	ok := jsObj("Done", jsReq("status", jsStr()))
	null := jsNull() // the reference answers null: the work goes on in the background
	for k, v := range map[string]opDoc{
		"GET /update/install-source": {tag: "update", summary: "Where the installed reachyd came from",
			desc: "source: index (installed by an update), git (installed from a ref, with git_ref and commit) or local.",
			resp: jsObj("Install source", jsReq("version", jsStr()), jsReq("source", jsEnum("index", "git", "local")),
				jsOpt("git_ref", jsStr()), jsOpt("commit", jsStr()))},
		"GET /update/available": {tag: "update", summary: "Is a newer reachyd available", params: []param{pre},
			resp: jsObj("Availability", jsReq("update", jsDict(jsObj("One package",
				jsReq("is_available", jsBool()), jsReq("current_version", jsStr()), jsReq("available_version", jsStr()))))),
			errs: map[int]string{400: "Update is in progress."}},
		"POST /update/start": {tag: "update", summary: "Install the newest release and restart", params: []param{pre}, resp: job,
			desc: "Runs the job update_reachy_mini: signed index, download, checksum, --version check, atomic swap, restart.",
			errs: map[int]string{400: "Update already in progress, or no update available.", 503: eSource}},
		"GET /update/validate-ref": {tag: "update", summary: "Does a ref name a release", params: []param{ref},
			resp: jsObj("Ref", jsReq("valid", jsBool()), jsReq("ref", jsStr()), jsOpt("error", jsStr())), errs: map[int]string{400: "Git ref cannot be empty.", 503: eSource}},
		"POST /update/start-from-ref": {tag: "update", summary: "Install the release a ref names", params: []param{ref}, resp: job,
			errs: map[int]string{400: "Git ref cannot be empty, or an update is in progress.", 503: eSource}},
		"GET /update/info": {tag: "update", summary: "An update job's status and log", params: []param{qParamReq("job_id", jsStr(), "The job.")},
			resp: jsObj("Job", jsReq("command", jsStr()), jsReq("status", jsStr()), jsReq("logs", jsArr(jsStr()))),
			errs: map[int]string{404: "No such job."}},
		"GET /update/ws/logs": {tag: "update", summary: "An update job's log as it runs", params: []param{qParamReq("job_id", jsStr(), "The job.")},
			ws: "One text frame per log line, then the job's status; closed when the job ends."},
		"GET /wifi/status": {tag: "wifi", summary: "Wi-Fi mode and networks",
			resp: jsObj("Wi-Fi status", jsReq("mode", jsEnum("hotspot", "wlan", "disconnected", "busy")),
				jsReq("known_networks", jsArr(jsStr())), jsReq("connected_network", jsNullable(jsStr()))),
			errs: map[int]string{503: eNM}},
		"GET /wifi/error":        {tag: "wifi", summary: "The last connection error", resp: jsObj("Error", jsReq("error", jsNullable(jsStr())))},
		"POST /wifi/reset_error": {tag: "wifi", summary: "Forget the last connection error", resp: ok},
		"POST /wifi/setup_hotspot": {tag: "wifi", summary: "Bring up the robot's hotspot", resp: null,
			params: []param{qParam("ssid", jsStr(), "Default reachy-mini-ap."), qParam("password", jsStr(), "Default reachy-mini.")},
			errs:   map[int]string{409: eBusy, 503: eNM}},
		"POST /wifi/connect": {tag: "wifi", summary: "Join a network (in the background)", resp: null,
			params: []param{qParamReq("ssid", jsStr(), "The network."), qParam("password", jsStr(), "Its password.")},
			desc:   "Answers at once; on failure the error is kept for GET /wifi/error and the hotspot comes back.",
			errs:   map[int]string{409: eBusy, 503: eNM}},
		"POST /wifi/scan_and_list": {tag: "wifi", summary: "Scan and list the networks in range", resp: jsArr(jsStr()),
			errs: map[int]string{409: eBusy, 503: eNM}},
		"POST /wifi/forget": {tag: "wifi", summary: "Forget a saved network", resp: null, params: []param{qParamReq("ssid", jsStr(), "The network.")},
			errs: map[int]string{400: "The hotspot cannot be forgotten.", 404: "Unknown network.", 409: eBusy, 503: eNM}},
		"POST /wifi/forget_all": {tag: "wifi", summary: "Forget every saved network but the hotspot", resp: null,
			errs: map[int]string{409: eBusy, 503: eNM}},
		"GET /wifi/prov_key": {tag: "wifi", summary: "The key to seal a password with",
			desc: "An X25519 public key, replaced every 600 s.",
			resp: jsObj("Provisioning key", jsReq("kid", jsStr()), jsReq("pk", jsStr()), jsReq("alg", jsStr()))},
		"POST /wifi/connect_sealed": {tag: "wifi", summary: "Join a network with a sealed password", resp: null,
			body: jsObj("Sealed credentials", jsReq("ssid", jsStr()), jsReq("kid", jsStr()), jsReq("epk", jsStr()), jsReq("nonce", jsStr()), jsReq("ct", jsStr())),
			desc: "X25519 + HKDF-SHA256 (salt: the device PIN, info reachy-mini-wifi-psk-v1) + AES-GCM with the ssid as AAD.",
			errs: map[int]string{400: "decrypt_failed: the payload does not open.", 409: eBusy, 503: eNM}},
	} {
		apiDocs[k] = v
	}
}
