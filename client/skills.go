package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// The skills API (pymirokai's RestAPI, spec/skills-api.md): an API key is
// exchanged for a JWT (GET /api/v1/auth/ with X-API-Key); every other
// call carries "Authorization: Bearer <jwt>", and command replies hand a
// fresh token of the same session in their Authorization header.

// Session is the answer of the key exchange.
type Session struct {
	Token       string `json:"token"`
	ClientID    string `json:"client_id"`
	AccessLevel string `json:"access_level"` // ENCHANTER, ADMIN or USER
}

// ErrNoAPIKey is returned by skills API calls when the client has neither
// a key nor a token.
var ErrNoAPIKey = errors.New("the skills API needs an API key (create one with `reachyd keys create`)")

// Login exchanges an API key for a session token, which the client then
// uses for the skills API. An empty key is sent as an empty header (the
// daemon accepts it only from trusted local callers on its unix socket).
func (c *Client) Login(ctx context.Context, apiKey string) (Session, error) {
	var s Session
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/auth/", header: http.Header{"X-Api-Key": {apiKey}}}, &s)
	if err != nil {
		return s, err
	}
	if s.Token == "" {
		return s, &TransportError{Op: "GET /api/v1/auth/", Err: protocolf("no token in the answer")}
	}
	c.mu.Lock()
	c.token = s.Token
	c.mu.Unlock()
	return s, nil
}

func (c *Client) currentToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// rollToken takes the fresh token of a command reply ("Bearer <token>").
func (c *Client) rollToken(h http.Header) {
	f := strings.Fields(h.Get("Authorization"))
	if len(f) == 2 && strings.EqualFold(f[0], "Bearer") && len(f[1]) < 8<<10 {
		c.mu.Lock()
		c.token = f[1]
		c.mu.Unlock()
	}
}

// authed sends a skills API call with the token, logging in first when
// there is none yet and once more when the token is refused (the daemon
// restarted, the session ended).
func (c *Client) authed(ctx context.Context, mk func() request, out any) error {
	if c.currentToken() == "" {
		if c.apiKey == "" {
			return ErrNoAPIKey
		}
		if _, err := c.Login(ctx, c.apiKey); err != nil {
			return err
		}
	}
	r := mk()
	r.bearer = true
	err := c.call(ctx, r, out)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.apiKey != "" {
		if _, lerr := c.Login(ctx, c.apiKey); lerr != nil {
			return lerr
		}
		r = mk()
		r.bearer = true
		err = c.call(ctx, r, out)
	}
	return err
}

func jsonRequest(method, path string, in any) func() request {
	b, err := json.Marshal(in)
	return func() request {
		if err != nil {
			// Marshal of the client's own maps does not fail; keep the
			// request well formed anyway.
			b = []byte("null")
		}
		return request{method: method, path: path, body: bytes.NewReader(b), ctype: "application/json"}
	}
}

// command is POST /api/v1/<kind>/ {"command", "value"}, answered {"result": ...}.
func (c *Client) command(ctx context.Context, kind, command string, value, out any, long bool) error {
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	mk := jsonRequest(http.MethodPost, "/api/v1/"+kind+"/", map[string]any{"command": command, "value": value})
	if err := c.authed(ctx, func() request { q := mk(); q.long = long; return q }, &r); err != nil {
		return err
	}
	return decode("POST /api/v1/"+kind+"/ "+command, r.Result, out)
}

// getCommand is GET /api/v1/get/<command>, answered {"result": ...}.
func (c *Client) getCommand(ctx context.Context, command string, out any) error {
	var r struct {
		Result json.RawMessage `json:"result"`
	}
	path := "/api/v1/get/" + seg(command)
	if err := c.authed(ctx, func() request { return request{method: http.MethodGet, path: path} }, &r); err != nil {
		return err
	}
	return decode("GET "+path, r.Result, out)
}

// Skills is the registry of skills the daemon knows (its built-in skills
// and the skill host's), by name: each entry holds "skill_info",
// "parameters" and, for files, "filename".
func (c *Client) Skills(ctx context.Context) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := c.getCommand(ctx, "get_skills", &m)
	return m, err
}

// SkillErrors are the skill files that failed to load, with why.
func (c *Client) SkillErrors(ctx context.Context) (map[string]string, error) {
	var m map[string]string
	err := c.getCommand(ctx, "get_skill_manager_errors", &m)
	return m, err
}

// Mission is one running call of a skill.
type Mission struct {
	ID        string `json:"id"`
	Skill     string `json:"skill"`
	ClientID  string `json:"client_id"`
	Started   bool   `json:"started"`
	AutoStart bool   `json:"auto_start"`
	CreatedAt string `json:"created_at"`
}

// Missions lists the running missions.
func (c *Client) Missions(ctx context.Context) ([]Mission, error) {
	var m []Mission
	err := c.getCommand(ctx, "list_running_missions", &m)
	return m, err
}

// SkillCallError is a skill call the daemon refused (unknown skill, wrong
// parameters, access level): the "msg" of {"called": false}.
type SkillCallError struct{ Msg string }

func (e *SkillCallError) Error() string { return "skill not called: " + e.Msg }

// CallSkill starts a mission of a skill with keyword parameters and
// returns its id.
func (c *Client) CallSkill(ctx context.Context, name string, params map[string]any) (string, error) {
	v := map[string]any{}
	for k, x := range params {
		v[k] = x
	}
	v["name"] = name
	var r struct {
		Called bool   `json:"called"`
		Msg    string `json:"msg"`
	}
	if err := c.command(ctx, "dict", "skill", v, &r, false); err != nil {
		return "", err
	}
	if !r.Called {
		return "", &SkillCallError{Msg: r.Msg}
	}
	return r.Msg, nil
}

// MissionResult is wait_for_skill's answer.
type MissionResult struct {
	Awaited     bool   `json:"awaited"`
	Msg         string `json:"msg"`
	StartResult *struct {
		Started bool   `json:"started"`
		Msg     string `json:"msg"`
	} `json:"start_result,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
	Status    string          `json:"status,omitempty"` // COMPLETED, CANCELLED or ERROR
	Exception string          `json:"exception,omitempty"`
	MissionID string          `json:"mission_id,omitempty"`
	Skill     string          `json:"skill,omitempty"`
}

// WaitMission waits for a mission's end (bounded by ctx only: a mission
// may run long).
func (c *Client) WaitMission(ctx context.Context, id string) (*MissionResult, error) {
	var r MissionResult
	if err := c.command(ctx, "str", "wait_for_skill", id, &r, true); err != nil {
		return nil, err
	}
	return &r, nil
}

// CancelMission cancels a mission; with wait, the answer comes once it
// has ended. The result is {"cancelled", "msg"}.
func (c *Client) CancelMission(ctx context.Context, id string, wait bool) (bool, string, error) {
	cmd := "cancel_skill"
	if wait {
		cmd = "cancel_and_wait_for_mission"
	}
	var r struct {
		Cancelled bool   `json:"cancelled"`
		Msg       string `json:"msg"`
	}
	err := c.command(ctx, "str", cmd, id, &r, wait)
	return r.Cancelled, r.Msg, err
}

// ---- skill files ------------------------------------------------------------------

// SkillFile is one file of the skills folder.
type SkillFile struct {
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
	Size    int64  `json:"size"`
}

// SkillFileResult is the answer of an upload, enable, disable or removal.
type SkillFileResult struct {
	Status    string `json:"status"`
	SkillName string `json:"skill_name"`
}

// SkillFiles lists the skill files.
func (c *Client) SkillFiles(ctx context.Context) ([]SkillFile, error) {
	var r struct {
		Skills []SkillFile `json:"skills"`
	}
	err := c.authed(ctx, func() request { return request{method: http.MethodGet, path: "/api/v1/skill/list/"} }, &r)
	return r.Skills, err
}

// maxSkillUpload is the daemon's limit on a skill file.
const maxSkillUpload = 1 << 20

// UploadSkill uploads a skill file (a Python file, at most 1 MiB) under
// its base name.
func (c *Client) UploadSkill(ctx context.Context, name string, content io.Reader) (SkillFileResult, error) {
	var res SkillFileResult
	data, err := io.ReadAll(io.LimitReader(content, maxSkillUpload+1))
	if err != nil {
		return res, err
	}
	if len(data) > maxSkillUpload {
		return res, fmt.Errorf("skill file too large: at most %d bytes", maxSkillUpload)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="skill"; filename=%q`, name))
	h.Set("Content-Type", "text/x-python")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return res, err
	}
	_, _ = pw.Write(data)
	if err := mw.Close(); err != nil {
		return res, err
	}
	payload, ctype := body.Bytes(), mw.FormDataContentType()
	err = c.authed(ctx, func() request {
		return request{method: http.MethodPost, path: "/api/v1/skill/upload/", body: bytes.NewReader(payload), ctype: ctype}
	}, &res)
	return res, err
}

// EnableSkill enables or disables a skill file.
func (c *Client) EnableSkill(ctx context.Context, name string, enable bool) (SkillFileResult, error) {
	var res SkillFileResult
	err := c.authed(ctx, jsonRequest(http.MethodPatch, "/api/v1/skill/enable/", map[string]any{"command": name, "value": enable}), &res)
	return res, err
}

// RemoveSkill deletes a skill file.
func (c *Client) RemoveSkill(ctx context.Context, name string) (SkillFileResult, error) {
	var res SkillFileResult
	path := "/api/v1/skill/remove/?skill_name=" + url.QueryEscape(name)
	err := c.authed(ctx, func() request { return request{method: http.MethodDelete, path: path} }, &res)
	return res, err
}
