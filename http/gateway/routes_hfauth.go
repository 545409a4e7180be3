package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/hfauth"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// The Hugging Face sign-in routes (the reference's routers/hf_auth.py, under
// /api/hf-auth): the sign-in flows are package hfauth's (Config.HFAuth);
// the relay's routes ask the relay actor (g.sys.Relay), and, as the
// reference's save-token, OAuth callback and device flow do, every sign-in
// tells the relay HFTokenChanged then StartRelay, and a sign-out
// HFTokenChanged. Without a relay actor the relay routes answer as the
// reference does without a relay instance. State-changing routes (POST,
// DELETE) go through the cross-origin check and the body limit like every
// other route; the OAuth callback is a GET a browser makes when Hugging
// Face sends it back, and does nothing without the state of a session
// this daemon began.

func (g *Gateway) hfAuthRoutes(api *echo.Group) {
	if g.cfg.HFAuth == nil {
		g.cfg.HFAuth = hfauth.New(hfauth.Config{})
	}
	h := api.Group("/hf-auth")
	h.POST("/save-token", g.hfSaveToken)
	h.GET("/status", g.hfStatus)
	h.GET("/relay-status", g.hfRelayStatus)
	h.DELETE("/token", g.hfDeleteToken)
	h.POST("/refresh-relay", g.hfRefreshRelay)
	h.GET("/central-robot-status", g.hfCentralRobotStatus)
	h.GET("/oauth/configured", g.hfOAuthConfigured)
	h.GET("/oauth/start", g.hfOAuthStart)
	h.GET("/oauth/begin", g.hfOAuthBegin)
	h.GET("/oauth/status/:session_id", g.hfOAuthStatus)
	h.DELETE("/oauth/session/:session_id", g.hfOAuthCancel)
	h.POST("/oauth/device/start", g.hfDeviceStart)
	h.GET("/oauth/device/status/:session_id", g.hfDeviceStatus)
	h.DELETE("/oauth/device/session/:session_id", g.hfDeviceCancel)
	h.GET("/oauth/callback", g.hfOAuthCallback)
}

func jsonValue(c echo.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return jsonBytes(c, b)
}

// hfSignedIn tells the relay a token was saved: it reconnects with it, and
// starts if it was stopped (a token-less boot has no relay running).
func (g *Gateway) hfSignedIn() {
	g.sys.Kit.Publish(messages.HFTokenChanged{}) // the TURN credentials refresher
	if g.sys.Relay != nil {
		g.sys.Kit.Tell(g.sys.Relay, &messages.HFTokenChanged{})
		g.sys.Kit.Tell(g.sys.Relay, &messages.StartRelay{})
	}
}

func (g *Gateway) hfSignedOut() {
	g.sys.Kit.Publish(messages.HFTokenChanged{})
	if g.sys.Relay != nil {
		g.sys.Kit.Tell(g.sys.Relay, &messages.HFTokenChanged{})
	}
}

func (g *Gateway) hfSaveToken(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	token, errs := decodeJSON(c, body, validate.TokenRequestFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	name, err := g.cfg.HFAuth.SaveToken(c.Request().Context(), token)
	if err != nil {
		g.log.Info("hf-auth: token refused", "err", err)
		return detail(c, http.StatusBadRequest, err.Error())
	}
	g.log.Info("hf-auth: signed in with a token", "user", name)
	g.hfSignedIn()
	o := wire.ObjStart(nil)
	o.String("status", "success")
	o.String("username", name)
	o.Null("message")
	return jsonBytes(c, o.End())
}

func (g *Gateway) hfStatus(c echo.Context) error {
	return jsonValue(c, g.cfg.HFAuth.Status(c.Request().Context()))
}

func (g *Gateway) hfDeleteToken(c echo.Context) error {
	err := g.cfg.HFAuth.Logout()
	if err == nil || errors.Is(err, hfauth.ErrEnvToken) {
		g.hfSignedOut() // the files changed either way
	}
	switch {
	case errors.Is(err, hfauth.ErrEnvToken):
		g.log.Warn("hf-auth: token files deleted, but HF_TOKEN still signs the daemon in")
		return detail(c, http.StatusInternalServerError, "Failed to delete token: "+err.Error())
	case err != nil:
		g.log.Error("hf-auth: sign-out failed", "err", err)
		return detail(c, http.StatusInternalServerError, "Failed to delete token")
	}
	g.log.Info("hf-auth: signed out")
	return jsonBytes(c, []byte(`{"status":"success"}`))
}

// hfRelayStatus is the relay's status. The reference answers "unavailable"
// ("Coming soon to Lite version") on a daemon that is not the wireless
// one; reachyd runs the relay wherever media run, so it answers the real
// status on every daemon (docs/compat.md).
func (g *Gateway) hfRelayStatus(c echo.Context) error {
	o := wire.ObjStart(nil)
	if g.sys.Relay == nil {
		o.String("state", string(messages.RelayStopped))
		o.String("message", "Relay not initialized")
		o.Bool("is_connected", false)
		return jsonBytes(c, o.End())
	}
	st, err := ask[messages.RelayStatus](g, c, g.sys.Relay, &messages.GetRelayStatus{})
	if err != nil {
		return g.fail(c, err, false)
	}
	o.String("state", string(st.State))
	if st.Message == "" {
		o.Null("message")
	} else {
		o.String("message", st.Message)
	}
	o.Bool("is_connected", st.IsConnected)
	return jsonBytes(c, o.End())
}

func (g *Gateway) hfRefreshRelay(c echo.Context) error {
	r := messages.RefreshRelayResult{Status: "skipped", TokenAvailable: g.cfg.HFAuth.Token() != "", Reason: "relay_unavailable"}
	if g.sys.Relay != nil {
		var err error
		if r, err = ask[messages.RefreshRelayResult](g, c, g.sys.Relay, &messages.RefreshRelay{}); err != nil {
			g.log.Warn("hf-auth: refresh-relay failed", "err", err)
			return detail(c, http.StatusInternalServerError, "Failed to refresh relay: "+messages.PublicText(err.Error()))
		}
	}
	o := wire.ObjStart(nil)
	o.String("status", r.Status)
	o.Bool("token_available", r.TokenAvailable)
	if r.Reason != "" {
		o.String("reason", r.Reason)
	}
	return jsonBytes(c, o.End())
}

// hfCentralRobotStatus asks the relay, which knows the central server; with
// no relay actor, it asks the central server itself, as the reference does.
func (g *Gateway) hfCentralRobotStatus(c echo.Context) error {
	var st hfauth.CentralStatus
	if g.sys.Relay != nil {
		// The relay asks central with a 5 s deadline.
		ctx, cancel := context.WithTimeout(c.Request().Context(), 6*time.Second)
		defer cancel()
		r, err := kit.Ask[messages.CentralRobotStatus](ctx, g.sys.Kit, g.sys.Relay, &messages.GetCentralRobotStatus{})
		if err != nil {
			return g.fail(c, err, false)
		}
		st = hfauth.CentralStatus{Available: r.Available, Robots: r.Robots, Reason: r.Reason}
	} else {
		st = g.cfg.HFAuth.CentralRobotStatus(c.Request().Context())
	}
	if len(st.Robots) == 0 || !json.Valid(st.Robots) {
		st.Robots = json.RawMessage("[]")
	}
	return jsonValue(c, st)
}

func (g *Gateway) hfOAuthConfigured(c echo.Context) error {
	o := wire.ObjStart(nil)
	o.Bool("configured", g.cfg.HFAuth.Configured())
	return jsonBytes(c, o.End())
}

func (g *Gateway) hfOAuthStart(c echo.Context) error {
	f := false
	local, errs := validate.QueryBool(c.QueryParams(), "use_localhost", &f)
	if errs != nil {
		return invalid(c, errs)
	}
	st, err := g.cfg.HFAuth.StartOAuth(local)
	if err != nil {
		return detail(c, http.StatusInternalServerError, err.Error())
	}
	return jsonValue(c, st)
}

// hfOAuthBegin is the mobile setup flow's one URL: a session, then a 307
// to Hugging Face's authorization page.
func (g *Gateway) hfOAuthBegin(c echo.Context) error {
	st, err := g.cfg.HFAuth.StartOAuth(false)
	if err != nil {
		return detail(c, http.StatusInternalServerError, err.Error())
	}
	return c.Redirect(http.StatusTemporaryRedirect, st.AuthURL)
}

func (g *Gateway) hfOAuthStatus(c echo.Context) error {
	return jsonValue(c, g.cfg.HFAuth.OAuthStatus(c.Param("session_id")))
}

func (g *Gateway) hfOAuthCancel(c echo.Context) error {
	if !g.cfg.HFAuth.CancelOAuth(c.Param("session_id")) {
		return detail(c, http.StatusNotFound, "Session not found")
	}
	return jsonBytes(c, []byte(`{"status":"success"}`))
}

func (g *Gateway) hfOAuthCallback(c echo.Context) error {
	r := g.cfg.HFAuth.Callback(c.Request().Context(), hfauth.ParseCallback(c.QueryParams()))
	if r.SignedIn {
		g.log.Info("hf-auth: signed in with OAuth")
		g.hfSignedIn()
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", hfauth.CallbackPageCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	return c.HTML(r.HTTPStatus, hfauth.CallbackPage(r))
}

func (g *Gateway) hfDeviceStart(c echo.Context) error {
	st, err := g.cfg.HFAuth.StartDevice(c.Request().Context())
	if err != nil {
		g.log.Warn("hf-auth: no device code", "err", err)
		return detail(c, http.StatusInternalServerError, hfauth.MsgUnavailable)
	}
	return jsonValue(c, st)
}

func (g *Gateway) hfDeviceStatus(c echo.Context) error {
	st, signedIn := g.cfg.HFAuth.DeviceStatus(c.Request().Context(), c.Param("session_id"))
	if signedIn {
		g.log.Info("hf-auth: signed in with a device code")
		g.hfSignedIn()
	}
	return jsonValue(c, st)
}

func (g *Gateway) hfDeviceCancel(c echo.Context) error {
	if !g.cfg.HFAuth.CancelDevice(c.Param("session_id")) {
		return detail(c, http.StatusNotFound, "Session not found")
	}
	return jsonBytes(c, []byte(`{"status":"success"}`))
}
