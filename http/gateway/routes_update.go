package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// updateAsk bounds the update routes' asks: a check fetches the release
// index (the source's own timeout is shorter).
const updateAsk = 35 * time.Second

// updateRoutes serves the reference's wireless-only update router (root
// paths, spec 1.4.10), answered by the updater actor; without one (no
// --wireless-version) the routes are absent (404), as on the reference.
func (g *Gateway) updateRoutes() {
	if g.sys.Update == nil {
		return
	}
	e := g.e
	e.GET("/update/install-source", g.updateInstallSource)
	e.GET("/update/available", g.updateAvailable)
	e.POST("/update/start", g.updateStart)
	e.GET("/update/validate-ref", g.updateValidateRef)
	e.POST("/update/start-from-ref", g.updateStartFromRef)
	e.GET("/update/info", g.updateInfo)
	e.GET("/update/ws/logs", g.wsUpdateLogs)
}

func (g *Gateway) askUpdate(c echo.Context, msg any) (any, error) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), updateAsk)
	defer cancel()
	return g.sys.Kit.AskAny(ctx, g.sys.Update, msg)
}

// queryString is a required str query parameter (FastAPI's 422 when
// absent; the last of repeated keys wins, as in Starlette).
func queryString(c echo.Context, name string) (string, validate.Errors) {
	vs := c.QueryParams()[name]
	if len(vs) == 0 {
		var errs validate.Errors
		validate.Missing([]any{"query", name}, nil, &errs)
		return "", errs
	}
	return vs[len(vs)-1], nil
}

func (g *Gateway) updateInstallSource(c echo.Context) error {
	r, err := g.askUpdate(c, &messages.GetInstallSource{})
	if err != nil {
		return g.fail(c, err, false)
	}
	s := r.(messages.InstallSource)
	o := wire.ObjStart(nil)
	o.String("version", s.Version)
	o.String("source", s.Source)
	if s.Source == "git" {
		o.String("git_ref", s.GitRef)
		o.String("commit", s.Commit)
	}
	return jsonBytes(c, o.End())
}

func (g *Gateway) updateAvailable(c echo.Context) error {
	pre, errs := validate.QueryBool(c.QueryParams(), "pre_release", &falseDefault)
	if errs != nil {
		return invalid(c, errs)
	}
	r, err := g.askUpdate(c, &messages.GetUpdateAvailable{PreRelease: pre})
	if err != nil {
		return g.fail(c, err, false)
	}
	a := r.(messages.UpdateAvailability)
	o := wire.ObjStart(nil)
	o.Key("update")
	u := wire.ObjStart(o.B)
	u.Key("reachy_mini")
	v := wire.ObjStart(u.B)
	v.Bool("is_available", a.IsAvailable)
	v.String("current_version", a.Current)
	v.String("available_version", a.Available)
	u.B = v.End()
	o.B = u.End()
	return jsonBytes(c, o.End())
}

func (g *Gateway) updateStart(c echo.Context) error {
	pre, errs := validate.QueryBool(c.QueryParams(), "pre_release", &falseDefault)
	if errs != nil {
		return invalid(c, errs)
	}
	return g.startUpdate(c, &messages.StartUpdate{PreRelease: pre})
}

func (g *Gateway) updateStartFromRef(c echo.Context) error {
	ref, errs := queryString(c, "git_ref")
	if errs != nil {
		return invalid(c, errs)
	}
	return g.startUpdate(c, &messages.StartUpdate{FromRef: true, Ref: ref})
}

func (g *Gateway) startUpdate(c echo.Context, m *messages.StartUpdate) error {
	r, err := g.askUpdate(c, m)
	if err != nil {
		return g.fail(c, err, false)
	}
	return jobStarted(c, r.(messages.JobStarted))
}

func (g *Gateway) updateValidateRef(c echo.Context) error {
	ref, errs := queryString(c, "git_ref")
	if errs != nil {
		return invalid(c, errs)
	}
	r, err := g.askUpdate(c, &messages.ValidateUpdateRef{Ref: ref})
	if err != nil {
		return g.fail(c, err, false)
	}
	v := r.(messages.RefValidation)
	o := wire.ObjStart(nil)
	o.Bool("valid", v.Valid)
	o.String("ref", v.Ref)
	if !v.Valid {
		o.String("error", v.Error)
	}
	return jsonBytes(c, o.End())
}

// updateInfo is any job's JobInfo, as the reference's (the register is
// shared by the apps, daemon and update routes).
func (g *Gateway) updateInfo(c echo.Context) error {
	id, errs := queryString(c, "job_id")
	if errs != nil {
		return invalid(c, errs)
	}
	info, err := ask[messages.JobInfo](g, c, g.sys.Jobs, &messages.GetJob{ID: id})
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.String("command", info.Command)
	o.String("status", string(info.Status))
	o.Strings("logs", info.Logs)
	return jsonBytes(c, o.End())
}

// wsUpdateLogs streams a job's log as WS /api/apps/ws/apps-manager/{id}
// does. A missing job_id is refused before the upgrade (FastAPI closes the
// handshake with 1008, which clients see as a refused upgrade).
func (g *Gateway) wsUpdateLogs(c echo.Context) error {
	id, errs := queryString(c, "job_id")
	if errs != nil {
		return detail(c, http.StatusForbidden, "job_id is required")
	}
	return g.streamJob(c, id)
}

// startUpdateCmd is the data channel's (and /ws/sdk's) start_update: the
// reference's checks and refusal reasons (spec 2.4), then the same update
// job as POST /update/start. The ack goes to a peer once the job is
// accepted; /ws/sdk gets no reply but the update runs, as on the
// reference. The check fetches the release index, so it runs off the
// command loop.
func (g *Gateway) startUpdateCmd(c *cmd, pre bool) {
	go func() {
		why := g.startUpdateRefusal(pre)
		if why != "" {
			c.failCmd(why)
			return
		}
		c.ok()
	}()
}

func (g *Gateway) startUpdateRefusal(pre bool) string {
	ctx, cancel := context.WithTimeout(context.Background(), updateAsk)
	defer cancel()
	st, err := kit.Ask[*messages.DaemonStatus](ctx, g.sys.Kit, g.sys.Daemon, &messages.GetDaemonStatus{})
	switch {
	case err != nil:
		return "start_update failed: " + g.errText(err, false)
	case st.State == messages.StateStopped:
		return "Daemon is stopped"
	case !st.WirelessVersion || g.sys.Update == nil:
		return "start_update is only supported on Reachy Mini Wireless"
	}
	if _, err := g.sys.Kit.AskAny(ctx, g.sys.Update, &messages.StartUpdate{PreRelease: pre}); err != nil {
		var me *messages.Error
		if errors.As(err, &me) && me.Kind != messages.KindInternal {
			// "Update already in progress", "No update available",
			// "Update availability check failed: ...".
			return messages.PublicText(me.Detail)
		}
		return "start_update failed: " + g.errText(err, false)
	}
	return ""
}
