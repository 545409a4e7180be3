package gateway

// The Hugging Face sign-in routes (routes_hfauth.go), for the live API
// document.

func init() {
	sid := pParam("session_id", jsStr())
	sessionStatus := jsObj("A sign-in session: status pending, authorized (with username), error or expired (with message).",
		jsReq("status", jsEnum("pending", "authorized", "error", "expired")), jsOpt("username", jsStr()), jsOpt("message", jsStr()))
	done := jsObj("Done", jsReq("status", jsWith(jsStr(), "const", "success")))
	relay := jsObj("The central relay's status", jsReq("state", jsEnum("stopped", "waiting_for_token", "connecting", "connected", "reconnecting", "error")),
		jsReq("message", jsNullable(jsStr())), jsReq("is_connected", jsBool()))
	cb := func(name, what string) param { return qParam(name, jsNullable(jsStr()), what) }
	for k, v := range map[string]opDoc{
		"POST /api/hf-auth/save-token": {tag: "hf_auth", summary: "Sign in with a token", body: jsRef("TokenRequest"), resp: jsRef("TokenResponse"),
			desc: "Checked with Hugging Face's whoami-v2, then saved as huggingface_hub's login() saves it (token file and stored_tokens); the relay reconnects.",
			errs: map[int]string{400: "Invalid token or network error (or why the token could not be saved).", 422: eValidation}},
		"GET /api/hf-auth/status": {tag: "hf_auth", summary: "Signed in?", resp: jsObj("Sign-in status",
			jsReq("is_logged_in", jsBool()), jsReq("username", jsNullable(jsStr()))),
			desc: "The stored token (HF_TOKEN first), checked with whoami-v2; a token Hugging Face refuses, or no answer, is not signed in."},
		"GET /api/hf-auth/relay-status": {tag: "hf_auth", summary: "Central relay status", resp: relay,
			desc: "On every daemon with a relay (the reference answers \"unavailable\" on the Lite); without one: stopped, \"Relay not initialized\"."},
		"DELETE /api/hf-auth/token": {tag: "hf_auth", summary: "Sign out", resp: done,
			desc: "Deletes the token file and stored_tokens, as huggingface_hub's logout().",
			errs: map[int]string{500: "Failed to delete token (also when HF_TOKEN, which the daemon cannot unset, still signs it in: the files are deleted)."}},
		"POST /api/hf-auth/refresh-relay": {tag: "hf_auth", summary: "Reconnect the central relay", resp: jsObj("Refresh",
			jsReq("status", jsEnum("requested", "skipped")), jsReq("token_available", jsBool()), jsOpt("reason", jsEnum("relay_not_running", "relay_unavailable"))),
			errs: map[int]string{500: "Failed to refresh relay: ..."}},
		"GET /api/hf-auth/central-robot-status": {tag: "hf_auth", summary: "The user's robots at the central server", resp: jsObj("Robots",
			jsReq("available", jsBool()), jsReq("robots", jsArr(jsDict(nil))), jsOpt("reason", jsStr())),
			desc: "reason when unavailable: not_authenticated, token_invalid, http_<code> or unreachable."},
		"GET /api/hf-auth/oauth/configured": {tag: "hf_auth", summary: "Is OAuth sign-in configured", resp: jsObj("Configured", jsReq("configured", jsBool()))},
		"GET /api/hf-auth/oauth/start": {tag: "hf_auth", summary: "Begin an OAuth sign-in",
			params: []param{qParam("use_localhost", jsWith(jsBool(), "default", false), "Call back to localhost (the desktop app forwards it to the robot).")},
			resp: jsObj("An OAuth session", jsReq("status", jsStr()), jsReq("session_id", jsStr()), jsReq("auth_url", jsStr()),
				jsReq("redirect_uri", jsStr()), jsReq("expires_in", jsInt())),
			desc: "Authorization code with PKCE S256; open auth_url in a browser, then poll oauth/status/{session_id}. Sessions last 600 s.",
			errs: map[int]string{422: eValidation, 500: "OAuth not configured."}},
		"GET /api/hf-auth/oauth/begin": {tag: "hf_auth", summary: "Begin an OAuth sign-in in this browser",
			desc: "A session, then a 307 redirect to Hugging Face's authorization page (the mobile setup flow).", errs: map[int]string{500: "OAuth not configured."}},
		"GET /api/hf-auth/oauth/status/{session_id}": {tag: "hf_auth", summary: "An OAuth session's status", params: []param{sid}, resp: sessionStatus},
		"DELETE /api/hf-auth/oauth/session/{session_id}": {tag: "hf_auth", summary: "Cancel an OAuth session", params: []param{sid}, resp: done,
			errs: map[int]string{404: "Session not found"}},
		"POST /api/hf-auth/oauth/device/start": {tag: "hf_auth", summary: "Begin a device-code sign-in",
			resp: jsObj("A device-code session", jsReq("status", jsStr()), jsReq("session_id", jsStr()), jsReq("user_code", jsStr()),
				jsReq("verification_uri", jsStr()), jsReq("verification_uri_complete", jsStr()), jsReq("interval", jsInt()), jsReq("expires_in", jsInt())),
			desc: "RFC 8628: show user_code and verification_uri, then poll device/status/{session_id}.",
			errs: map[int]string{500: "Hugging Face authentication is unavailable."}},
		"GET /api/hf-auth/oauth/device/status/{session_id}": {tag: "hf_auth", summary: "A device-code session's status", params: []param{sid}, resp: sessionStatus,
			desc: "Asks Hugging Face at most once per interval; the first authorized answer saves the token and starts the relay."},
		"DELETE /api/hf-auth/oauth/device/session/{session_id}": {tag: "hf_auth", summary: "Cancel a device-code session", params: []param{sid}, resp: done,
			errs: map[int]string{404: "Session not found"}},
		"GET /api/hf-auth/oauth/callback": {tag: "hf_auth", summary: "Where Hugging Face sends the browser back", respType: "text/html",
			params: []param{cb("code", "The authorization code."), cb("state", "The session."), cb("error", "Hugging Face's error."), cb("error_description", "Its text.")},
			desc:   "Exchanges the code for a token, saves it, and shows the result; 400 without a code or state."},
	} {
		apiDocs[k] = v
	}
}
