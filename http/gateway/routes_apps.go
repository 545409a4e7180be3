package gateway

import (
	"context"
	"encoding/json"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

var sourceKinds = []string{"hf_space", "dashboard_selection", "local", "installed"}

func (g *Gateway) appRoutes(api *echo.Group) {
	api.GET("/apps/list-available/:source_kind", g.listApps)
	api.GET("/apps/list-available", g.listApps)
	api.POST("/apps/install", g.installApp)
	api.POST("/apps/install-private-space", g.installPrivateSpace)
	api.POST("/apps/remove/:app_name", g.appJob(func(n string) any { return &messages.RemoveApp{Name: n} }))
	api.POST("/apps/update/:app_name", g.appJob(func(n string) any { return &messages.UpdateApp{Name: n} }))
	api.POST("/apps/start-app/:app_name", g.startApp(messages.LockEvict))
	api.POST("/apps/start-app/:app_name/no-evict", g.startApp(messages.LockTry))
	api.POST("/apps/restart-current-app", g.restartApp)
	api.POST("/apps/stop-current-app", g.stopApp)
	api.GET("/apps/current-app-status", g.currentApp)
	api.GET("/apps/startup-app", g.getStartupApp)
	api.PUT("/apps/startup-app", g.setStartupApp)
	api.GET("/apps/check-updates", g.checkUpdates)
}

func (g *Gateway) listApps(c echo.Context) error {
	source := c.Param("source_kind")
	if c.Path() != "/api/apps/list-available" {
		if errs := validate.PathEnum(source, "source_kind", sourceKinds); errs != nil {
			return invalid(c, errs)
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
	defer cancel()
	l, err := kit.Ask[messages.AppList](ctx, g.sys.Kit, g.sys.Apps, &messages.ListApps{Source: source})
	if err != nil {
		return g.fail(c, err, false)
	}
	b := []byte{'['}
	for i, a := range l.Apps {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppInfo(b, a)
	}
	return jsonBytes(c, append(b, ']'))
}

// decodeAppInfo validates the reference's AppInfo body.
func decodeAppInfo(v any) (messages.AppInfo, validate.Errors) {
	var errs validate.Errors
	var a messages.AppInfo
	get, ok := validate.ModelObject(v, []any{"body"}, &errs)
	if !ok {
		return a, errs
	}
	loc := func(k string) []any { return []any{"body", k} }
	if x, ok := get("name"); ok {
		a.Name, _ = validate.String(x, loc("name"), &errs)
	} else {
		validate.Missing(loc("name"), v, &errs)
	}
	if x, ok := get("source_kind"); ok {
		a.SourceKind, _ = validate.Enum(x, loc("source_kind"), sourceKinds, &errs)
	} else {
		validate.Missing(loc("source_kind"), v, &errs)
	}
	if x, ok := get("description"); ok {
		a.Description, _ = validate.String(x, loc("description"), &errs)
	}
	if x, ok := get("url"); ok && x != nil {
		if s, ok := validate.String(x, loc("url"), &errs); ok {
			a.URL = &s
		}
	}
	a.Extra = map[string]any{}
	if x, ok := get("extra"); ok {
		obj, isObj := x.(*validate.Object)
		if !isObj {
			errs = append(errs, validate.Error{Type: "dict_type", Loc: loc("extra"), Msg: "Input should be a valid dictionary", Input: x})
		} else {
			raw, _ := json.Marshal(obj)
			_ = json.Unmarshal(raw, &a.Extra)
		}
	}
	if len(errs) > 0 {
		return a, errs
	}
	return a, nil
}

func (g *Gateway) installApp(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	info, errs := decodeJSON(c, body, decodeAppInfo)
	if errs != nil {
		return invalid(c, errs)
	}
	// A local install reads a path on this machine: any path for reachyd's
	// own user or root on the unix socket, only --apps-local-dir otherwise
	// (the app manager decides).
	peer, local := peerOf(c.Request().Context())
	j, err := ask[messages.JobStarted](g, c, g.sys.Apps, &messages.InstallApp{Info: info, LocalTrusted: local && peer.Trusted()})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jobStarted(c, j)
}

func (g *Gateway) installPrivateSpace(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	id, errs := decodeJSON(c, body, func(v any) (string, validate.Errors) {
		var errs validate.Errors
		get, ok := validate.ModelObject(v, []any{"body"}, &errs)
		if !ok {
			return "", errs
		}
		x, ok := get("space_id")
		if !ok {
			validate.Missing([]any{"body", "space_id"}, v, &errs)
			return "", errs
		}
		s, _ := validate.String(x, []any{"body", "space_id"}, &errs)
		return s, errs
	})
	if errs != nil {
		return invalid(c, errs)
	}
	j, err := ask[messages.JobStarted](g, c, g.sys.Apps, &messages.InstallPrivateSpace{SpaceID: id})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jobStarted(c, j)
}

func (g *Gateway) appJob(msg func(name string) any) echo.HandlerFunc {
	return func(c echo.Context) error {
		j, err := ask[messages.JobStarted](g, c, g.sys.Apps, msg(c.Param("app_name")))
		if err != nil {
			return g.fail(c, err, false)
		}
		return jobStarted(c, j)
	}
}

// longAsk is for stops, which wait for the app's grace period.
func (g *Gateway) longAsk(c echo.Context, msg any) (any, error) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 60*time.Second)
	defer cancel()
	return g.sys.Kit.AskAny(ctx, g.sys.Apps, msg)
}

func (g *Gateway) startApp(mode messages.LockMode) echo.HandlerFunc {
	return func(c echo.Context) error {
		r, err := g.longAsk(c, &messages.StartApp{Name: c.Param("app_name"), Mode: mode})
		if err != nil {
			return g.fail(c, err, false)
		}
		st := r.(messages.AppStatus)
		return jsonBytes(c, wire.AppStatus(&st))
	}
}

func (g *Gateway) restartApp(c echo.Context) error {
	r, err := g.longAsk(c, &messages.RestartApp{})
	if err != nil {
		return g.fail(c, err, false)
	}
	st := r.(messages.AppStatus)
	return jsonBytes(c, wire.AppStatus(&st))
}

func (g *Gateway) stopApp(c echo.Context) error {
	if _, err := g.longAsk(c, &messages.StopApp{}); err != nil {
		return g.fail(c, err, false)
	}
	return jsonBytes(c, []byte("null"))
}

func (g *Gateway) currentApp(c echo.Context) error {
	r, err := ask[messages.CurrentApp](g, c, g.sys.Apps, &messages.GetAppStatus{})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jsonBytes(c, wire.AppStatus(r.Status))
}

func startupApp(c echo.Context, s messages.StartupApp) error {
	o := wire.ObjStart(nil)
	if s.Name == "" {
		o.Null("startup_app")
	} else {
		o.String("startup_app", s.Name)
	}
	return jsonBytes(c, o.End())
}

func (g *Gateway) getStartupApp(c echo.Context) error {
	s, err := ask[messages.StartupApp](g, c, g.sys.Apps, &messages.GetStartupApp{})
	if err != nil {
		return g.fail(c, err, false)
	}
	return startupApp(c, s)
}

func (g *Gateway) setStartupApp(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	name, errs := decodeJSON(c, body, func(v any) (string, validate.Errors) {
		var errs validate.Errors
		get, ok := validate.ModelObject(v, []any{"body"}, &errs)
		if !ok {
			return "", errs
		}
		x, ok := get("startup_app")
		if !ok || x == nil {
			return "", nil
		}
		s, _ := validate.String(x, []any{"body", "startup_app"}, &errs)
		return s, errs
	})
	if errs != nil {
		return invalid(c, errs)
	}
	s, err := ask[messages.StartupApp](g, c, g.sys.Apps, &messages.SetStartupApp{Name: name})
	if err != nil {
		return g.fail(c, err, false)
	}
	return startupApp(c, s)
}

func (g *Gateway) checkUpdates(c echo.Context) error {
	force, errs := validate.QueryBool(c.QueryParams(), "force", &falseDefault)
	if errs != nil {
		return invalid(c, errs)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 90*time.Second)
	defer cancel()
	u, err := kit.Ask[messages.AppUpdates](ctx, g.sys.Kit, g.sys.Apps, &messages.CheckAppUpdates{Force: force})
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.Key("apps_with_updates")
	o.B = append(o.B, '[')
	for i, a := range u.Apps {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		ao := wire.ObjStart(o.B)
		ao.String("app_name", a.AppName)
		ao.String("space_id", a.SpaceID)
		ao.String("installed_sha", a.InstalledSHA)
		ao.String("latest_sha", a.LatestSHA)
		ao.Bool("update_available", a.UpdateAvailable)
		if a.LastModified == "" {
			ao.Null("last_modified")
		} else {
			ao.String("last_modified", a.LastModified)
		}
		o.B = ao.End()
	}
	o.B = append(o.B, ']')
	o.Int("apps_checked", int64(u.Checked))
	o.Int("apps_skipped", int64(u.Skipped))
	return jsonBytes(c, o.End())
}
