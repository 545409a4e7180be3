package gateway

// The skills API of pymirokai's RestAPI (../shared/spec/skills-api.md):
// GET /status, the API-key exchange, Bearer authentication with a rolling
// token, the typed command endpoints that run and follow missions, the
// skill-file endpoints and the unauthenticated service endpoints. Every
// success is exactly 200 with Content-Type application/json; paths are
// served as the client spells them, with or without the trailing slash,
// and never redirected.

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/labstack/echo/v4"

	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

const principalKey = "reachyd.principal"

// maxAuthHeader bounds the Authorization and X-API-Key headers: longer ones
// are refused before any parsing.
const maxAuthHeader = 8 << 10

// both registers a route with and without its trailing slash.
func both(g *echo.Group, method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	g.Add(method, path, h, m...)
	if strings.HasSuffix(path, "/") {
		g.Add(method, strings.TrimSuffix(path, "/"), h, m...)
	} else {
		g.Add(method, path+"/", h, m...)
	}
}

func (g *Gateway) v1Routes() {
	if g.sys.Auth == nil {
		return
	}
	g.e.GET("/status", func(c echo.Context) error { return jsonBytes(c, []byte(`{"status":"ok"}`)) })
	v1 := g.e.Group("/api/v1")
	both(v1, http.MethodGet, "/auth/", g.v1Auth)
	both(v1, http.MethodGet, "/service/get_services_list", g.servicesList)
	both(v1, http.MethodGet, "/service/:system/:service", g.serviceInfo)

	authed := []echo.MiddlewareFunc{g.bearer}
	command := []echo.MiddlewareFunc{g.bearer, g.rollToken}
	skillFiles := []echo.MiddlewareFunc{g.bearer, g.needLevel(skillFilesLevel, "Changing skill files")}
	both(v1, http.MethodGet, "/get/:command", g.v1Get, command...)
	for _, kind := range []string{"str", "int", "float", "bool", "list", "dict"} {
		both(v1, http.MethodPost, "/"+kind+"/", g.v1Typed(kind), command...)
	}
	both(v1, http.MethodPost, "/skill/upload/", g.skillUpload, skillFiles...)
	both(v1, http.MethodGet, "/skill/list/", g.skillList, authed...)
	both(v1, http.MethodPatch, "/skill/enable/", g.skillEnable, skillFiles...)
	both(v1, http.MethodDelete, "/skill/remove/", g.skillRemove, skillFiles...)
}

// skillFilesLevel: uploading, enabling, disabling and removing skill
// files puts code on the robot that the skill host runs, so it needs ADMIN
// or better (the spec gives these routes no level of their own). Listing
// the files is open to every key.
const skillFilesLevel = messages.LevelAdmin

// ---- authentication -------------------------------------------------------------

func remote(c echo.Context) string { return remoteOf(c.Request()) }

func unauthorized(c echo.Context, text string) error {
	c.Response().Header().Set("WWW-Authenticate", "Bearer")
	return detail(c, http.StatusUnauthorized, text)
}

func (g *Gateway) v1Auth(c echo.Context) error {
	key := c.Request().Header.Get("X-API-Key")
	if len(key) > maxAuthHeader {
		return detail(c, http.StatusRequestHeaderFieldsTooLarge, "X-API-Key header too large")
	}
	_, keyPresent := c.Request().Header["X-Api-Key"]
	p, local := peerOf(c.Request().Context())
	trusted := local && p.Trusted()
	if !keyPresent && !trusted {
		return unauthorized(c, "Missing X-API-Key header")
	}
	gr, err := ask[messages.AuthGrant](g, c, g.sys.Auth, &messages.AuthKey{Key: key, Remote: remote(c), TrustedLocal: trusted})
	if err != nil {
		if messages.KindOf(err) == messages.KindUnauthorized {
			g.badInput.Log(g.log, slog.LevelInfo, "API key refused", "remote", remote(c))
			return unauthorized(c, err.Error())
		}
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.String("token", gr.Token)
	o.String("client_id", gr.ClientID)
	o.String("access_level", gr.Level.String())
	return jsonBytes(c, o.End())
}

// bearer checks the Authorization header and puts the caller's Principal
// in the context.
func (g *Gateway) bearer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get("Authorization")
		if len(h) > maxAuthHeader {
			return detail(c, http.StatusRequestHeaderFieldsTooLarge, "Authorization header too large")
		}
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			return unauthorized(c, "Not authenticated")
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return unauthorized(c, "Invalid authorization scheme: use Bearer <token>")
		}
		ch := messages.ChannelNetwork
		if _, unix := peerOf(c.Request().Context()); unix {
			ch = messages.ChannelUnix
		}
		p, err := ask[messages.Principal](g, c, g.sys.Auth, &messages.VerifyToken{Token: strings.TrimSpace(token), Remote: remote(c), Channel: ch})
		if err != nil {
			if messages.KindOf(err) == messages.KindUnauthorized {
				return unauthorized(c, err.Error())
			}
			return g.fail(c, err, false)
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func principal(c echo.Context) messages.Principal {
	p, _ := c.Get(principalKey).(messages.Principal)
	return p
}

// needLevel refuses callers less privileged than need with 403 (after
// bearer, before the body is read). The refusal is logged with the key id
// (never the key or the token).
func (g *Gateway) needLevel(need messages.AccessLevel, what string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := principal(c)
			if !p.Level.Allows(need) {
				g.badInput.Log(g.log, slog.LevelInfo, "refused: access level too low", "path", c.Request().URL.Path, "key_id", p.KeyID,
					"client_id", p.ClientID, "level", p.Level.String(), "needs", need.String())
				return detail(c, http.StatusForbidden, what+" needs the "+need.String()+" access level or higher")
			}
			return next(c)
		}
	}
}

// rollToken sends a fresh token of the same session in the Authorization
// response header of command responses ("Bearer <token>": the client takes
// the second word); the caller's older tokens stay valid while its session
// lives (its WebSocket keeps the first one).
func (g *Gateway) rollToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, err := ask[messages.AuthToken](g, c, g.sys.Auth, &messages.RotateToken{Principal: principal(c)})
		if err == nil {
			c.Response().Header().Set("Authorization", "Bearer "+t.Token)
		}
		return next(c)
	}
}

// ---- commands ---------------------------------------------------------------------

// result writes the convention of every pymirokai feature: {"result": v}.
func result(c echo.Context, v []byte) error {
	o := wire.ObjStart(make([]byte, 0, len(v)+16))
	o.Key("result")
	o.B = append(o.B, v...)
	return jsonBytes(c, o.End())
}

// mirokaiOnly are commands of pymirokai's Mirokai robot that have no
// meaning on Reachy Mini: they get 501 rather than 404.
var mirokaiOnly = map[string]bool{
	"autonomous_planning_output": true, "exit_arms_collision": true, "get_all_runes_details": true,
	"get_clicked_runes": true, "get_detected_runes": true, "get_double_clicked_runes": true,
	"get_long_pressed_runes": true, "is_making_noise": true, "is_seeing_handle": true, "is_seeing_human": true,
	"list_all_location_ids": true, "pddl_domain": true, "pddl_problem": true, "set_actions_by_voice": true,
	"set_obstacle_avoidance": true, "sound_level": true, "set_robot_max_velocity": true, "rune_association": true,
	"is_seeing": true, "is_clicked": true, "is_detected": true, "is_double_clicked": true, "is_long_pressed": true,
	"get_rune_rssi": true, "get_rune_angle_of_arrival": true,
}

func unknownCommand(c echo.Context, kind, command string) error {
	if mirokaiOnly[command] {
		return detail(c, http.StatusNotImplemented, "'"+command+"' is a Mirokai command: it is not available on Reachy Mini")
	}
	path := "/api/v1/" + kind + "/"
	if kind == "get" {
		path = "/api/v1/get/<command>"
	}
	return detail(c, http.StatusNotFound, "Unknown command '"+command+"' for "+path)
}

func (g *Gateway) v1Get(c echo.Context) error {
	cmd := c.Param("command")
	switch cmd {
	case "get_skills":
		s, err := ask[messages.SkillsList](g, c, g.sys.Skills, &messages.GetSkills{})
		if err != nil {
			return g.fail(c, err, false)
		}
		return result(c, s.Skills)
	case "get_skill_manager_errors":
		s, err := ask[messages.SkillsList](g, c, g.sys.Skills, &messages.GetSkills{})
		if err != nil {
			return g.fail(c, err, false)
		}
		b, _ := json.Marshal(s.Errors)
		return result(c, b)
	case "cancel_client_missions":
		r, err := ask[messages.MissionsCancelled](g, c, g.sys.Skills, &messages.CancelClientMissions{ClientID: principal(c).ClientID})
		if err != nil {
			return g.fail(c, err, false)
		}
		b, _ := json.Marshal(map[string]any{"cancelled": orEmptyList(r.IDs)})
		return result(c, b)
	case "list_running_missions":
		r, err := ask[messages.MissionList](g, c, g.sys.Skills, &messages.ListMissions{})
		if err != nil {
			return g.fail(c, err, false)
		}
		if r.Missions == nil {
			r.Missions = []messages.MissionInfo{}
		}
		b, _ := json.Marshal(r.Missions)
		return result(c, b)
	case "list_running_auto_start_skills":
		r, err := ask[messages.AutoStartSkills](g, c, g.sys.Skills, &messages.ListAutoStartSkills{})
		if err != nil {
			return g.fail(c, err, false)
		}
		b, _ := json.Marshal(orEmptyList(r.Names))
		return result(c, b)
	case "get_character_name":
		n, err := ask[messages.RobotName](g, c, g.sys.Daemon, &messages.GetRobotName{})
		if err != nil {
			return g.fail(c, err, false)
		}
		return result(c, wire.AppendString(nil, n.Name))
	case "get_language":
		return result(c, []byte(`"en"`))
	case "get_publishers":
		b, _ := json.Marshal([]string{"robot_state", "daemon_status", "app_status", "motor_health", "job_progress"})
		return result(c, b)
	case "is_sleeping":
		st, err := g.status(c)
		if err != nil {
			return g.fail(c, err, false)
		}
		asleep := st.State != messages.StateRunning || st.Backend == nil || st.Backend.Mode == messages.ModeDisabled
		return result(c, wire.AppendBool(nil, asleep))
	}
	return unknownCommand(c, "get", cmd)
}

func orEmptyList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// v1Typed serves POST /api/v1/<kind>/ {"command": str, "value": <kind>}.
func (g *Gateway) v1Typed(kind string) echo.HandlerFunc {
	return func(c echo.Context) error {
		body, err := readBody(c)
		if err != nil {
			return bodyError(c, err)
		}
		in, errs := decodeJSON(c, body, func(v any) (validate.Command, validate.Errors) { return validate.CommandFromValue(v, kind) })
		if errs != nil {
			return invalid(c, errs)
		}
		return g.v1Command(c, kind, in.Name, in.Value)
	}
}

// longAskSkills is for commands that wait on a mission: bounded by the client's
// own patience (the request context), not the ask timeout.
func (g *Gateway) longAskSkills(c echo.Context, msg any) (any, error) {
	return g.sys.Kit.AskAny(c.Request().Context(), g.sys.Skills, msg)
}

func (g *Gateway) v1Command(c echo.Context, kind, command string, value any) error {
	switch {
	case kind == "dict" && command == "skill":
		obj := value.(*validate.Object)
		nameV, ok := obj.Get("name")
		name, isStr := nameV.(string)
		if !ok || !isStr || name == "" {
			return detail(c, http.StatusUnprocessableEntity, `"value" must hold the skill's "name" (a string) and its keyword arguments`)
		}
		params := map[string]json.RawMessage{}
		for _, k := range obj.Keys() {
			if k != "name" {
				v, _ := obj.Get(k)
				params[k] = validate.Marshal(v)
			}
		}
		r, err := ask[messages.SkillCalled](g, c, g.sys.Skills, &messages.CallSkill{Caller: principal(c), Name: name, Params: params})
		if err != nil {
			return g.fail(c, err, false)
		}
		o := wire.ObjStart(nil)
		o.Bool("called", r.Called)
		o.String("msg", r.Msg)
		return result(c, o.End())
	case kind == "str" && command == "wait_for_skill":
		r, err := g.longAskSkills(c, &messages.WaitMission{ID: value.(string)})
		if err != nil {
			return g.fail(c, err, false)
		}
		return result(c, missionReport(r.(messages.MissionReport)))
	case kind == "str" && command == "wait_for_skill_started":
		r, err := g.longAskSkills(c, &messages.WaitMissionStarted{ID: value.(string)})
		if err != nil {
			return g.fail(c, err, false)
		}
		s := r.(messages.MissionStarted)
		return result(c, startResult(nil, s.Started, s.Msg))
	case kind == "str" && (command == "cancel_skill" || command == "cancel_and_wait_for_mission"):
		r, err := g.longAskSkills(c, &messages.CancelMission{ID: value.(string), Wait: command == "cancel_and_wait_for_mission"})
		if err != nil {
			return g.fail(c, err, false)
		}
		return result(c, cancelled(r.(messages.MissionCancelled)))
	case kind == "str" && command == "cancel_auto_start_skill":
		r, err := ask[messages.MissionCancelled](g, c, g.sys.Skills, &messages.CancelAutoStartSkill{Name: value.(string)})
		if err != nil {
			return g.fail(c, err, false)
		}
		return result(c, cancelled(r))
	}
	return unknownCommand(c, kind, command)
}

func startResult(b []byte, started bool, msg string) []byte {
	o := wire.ObjStart(b)
	o.Bool("started", started)
	o.String("msg", msg)
	return o.End()
}

func cancelled(r messages.MissionCancelled) []byte {
	o := wire.ObjStart(nil)
	o.Bool("cancelled", r.Cancelled)
	o.String("msg", r.Msg)
	return o.End()
}

// missionReport is wait_for_skill's answer: pymirokai's {"awaited", "msg",
// "start_result"} and the SkillManager's result {"value", "status"
// [, "exception"]}, with the mission id and skill name.
func missionReport(r messages.MissionReport) []byte {
	o := wire.ObjStart(nil)
	o.Bool("awaited", r.Awaited)
	o.String("msg", r.Msg)
	if !r.Awaited {
		return o.End()
	}
	o.Key("start_result")
	o.B = startResult(o.B, r.Started, r.StartMsg)
	o.Key("value")
	if len(r.Value) == 0 {
		o.B = append(o.B, "null"...)
	} else {
		o.B = append(o.B, r.Value...)
	}
	o.String("status", r.Status)
	if r.Exception != "" {
		o.String("exception", r.Exception)
	}
	o.String("mission_id", r.ID)
	o.String("skill", r.Skill)
	return o.End()
}

// ---- skill files ------------------------------------------------------------------

// skillFileDone answers a successful upload, enable, disable or removal,
// and logs which key did it.
func (g *Gateway) skillFileDone(c echo.Context, r messages.SkillFileDone) error {
	p := principal(c)
	g.log.Info("skill file changed", "op", r.Status, "skill", r.Name, "key_id", p.KeyID, "client_id", p.ClientID)
	o := wire.ObjStart(nil)
	o.String("status", r.Status)
	o.String("skill_name", r.Name)
	return jsonBytes(c, o.End())
}

// skillUpload takes the multipart part "skill" (pymirokai's
// upload_skill_file), at most MaxSkillFile bytes.
func (g *Gateway) skillUpload(c echo.Context) error {
	const limit = 1 << 20
	r := c.Request()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return detail(c, http.StatusUnprocessableEntity, `Expected multipart/form-data with a part named "skill"`)
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return detail(c, http.StatusUnprocessableEntity, `Expected multipart/form-data with a part named "skill"`)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return detail(c, http.StatusUnprocessableEntity, `No part named "skill" in the form`)
		}
		if err != nil {
			return bodyError(c, err)
		}
		if part.FormName() != "skill" {
			continue
		}
		// The raw name: Part.FileName would silently strip folders.
		_, dp, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		name := dp["filename"]
		if name == "" || strings.ContainsAny(name, `/\`) || name != filepath.Base(name) {
			return detail(c, http.StatusUnprocessableEntity, "The skill part needs a plain file name (no folders)")
		}
		content, err := io.ReadAll(io.LimitReader(part, limit+1))
		if err != nil {
			return bodyError(c, err)
		}
		if len(content) > limit {
			return detail(c, http.StatusRequestEntityTooLarge, "Skill file too large: at most 1 MiB")
		}
		res, err := ask[messages.SkillFileDone](g, c, g.sys.Skills, &messages.UploadSkillFile{Name: name, Content: content})
		if err != nil {
			return g.fail(c, err, false)
		}
		return g.skillFileDone(c, res)
	}
}

func (g *Gateway) skillList(c echo.Context) error {
	r, err := ask[messages.SkillFiles](g, c, g.sys.Skills, &messages.ListSkillFiles{})
	if err != nil {
		return g.fail(c, err, false)
	}
	if r.Files == nil {
		r.Files = []messages.SkillFile{}
	}
	b, _ := json.Marshal(map[string]any{"skills": r.Files})
	return jsonBytes(c, b)
}

func (g *Gateway) skillEnable(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	// The body is a BoolCommand: {"command": <file name>, "value": <enable>}.
	in, errs := decodeJSON(c, body, func(v any) (validate.Command, validate.Errors) { return validate.CommandFromValue(v, "bool") })
	if errs != nil {
		return invalid(c, errs)
	}
	r, err := ask[messages.SkillFileDone](g, c, g.sys.Skills, &messages.EnableSkillFile{Name: in.Name, Enable: in.Value.(bool)})
	if err != nil {
		return g.fail(c, err, false)
	}
	return g.skillFileDone(c, r)
}

func (g *Gateway) skillRemove(c echo.Context) error {
	name := c.QueryParam("skill_name")
	if name == "" {
		var errs validate.Errors
		validate.Missing([]any{"query", "skill_name"}, nil, &errs)
		return invalid(c, errs)
	}
	r, err := ask[messages.SkillFileDone](g, c, g.sys.Skills, &messages.RemoveSkillFile{Name: name})
	if err != nil {
		return g.fail(c, err, false)
	}
	return g.skillFileDone(c, r)
}

// ---- services -----------------------------------------------------------------------

// servicesList and serviceInfo answer without authentication (pymirokai
// sends none): service names, their state and their recent log lines,
// which never hold key or token material.
func (g *Gateway) servicesList(c echo.Context) error {
	r, err := ask[messages.Services](g, c, g.sys.Daemon, &messages.GetServices{})
	if err != nil {
		return g.fail(c, err, false)
	}
	b, _ := json.Marshal(map[string]any{"head": orEmptyList(r.Names), "base": []string{}})
	return jsonBytes(c, b)
}

func (g *Gateway) serviceInfo(c echo.Context) error {
	r, err := ask[messages.ServiceInfo](g, c, g.sys.Daemon, &messages.GetService{System: c.Param("system"), Name: c.Param("service")})
	if err != nil {
		return g.fail(c, err, false)
	}
	b, _ := json.Marshal(map[string]any{"system": c.Param("system"), "service": r.Name, "state": r.State,
		"restarts": r.Restarts, "logs": orEmptyList(r.Logs)})
	return jsonBytes(c, b)
}
