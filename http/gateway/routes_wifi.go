package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/http/validate"
	"reachyd/messages/wire"
	"reachyd/wifi"
)

// The Wi-Fi routes (the reference's routers/wifi_config.py, served at the
// root under /wifi and only by the Wireless robot's daemon: Config.Wifi is
// set with --wireless-version). Operations that change the network answer
// at once with null and run in the background in package wifi; one at a
// time, another one asked meanwhile is the reference's 409. Where the
// reference lets an nmcli failure escape as a bare 500, reachyd answers
// 503 with the reason (NetworkManager not reachable). POSTs go through the
// cross-origin check like every other route.

func (g *Gateway) wifiRoutes() {
	if g.cfg.Wifi == nil {
		return
	}
	w := g.e.Group("/wifi")
	w.GET("/status", g.wifiStatus)
	w.GET("/error", g.wifiError)
	w.POST("/reset_error", g.wifiResetError)
	w.POST("/setup_hotspot", g.wifiSetupHotspot)
	w.POST("/connect", g.wifiConnect)
	w.POST("/scan_and_list", g.wifiScan)
	w.POST("/forget", g.wifiForget)
	w.POST("/forget_all", g.wifiForgetAll)
	w.GET("/prov_key", g.wifiProvKey)
	w.POST("/connect_sealed", g.wifiConnectSealed)
}

var jsonNull = []byte("null")

// wifiTimeout bounds the routes that wait for NetworkManager (a status
// reads a few objects; a scan waits up to 10 s for the radio).
const wifiTimeout = 30 * time.Second

func (g *Gateway) wifiCtx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), wifiTimeout)
}

// wifiFail answers an error of package wifi.
func (g *Gateway) wifiFail(c echo.Context, err error) error {
	var unknown *wifi.UnknownNetworkError
	var sealed *wifi.SealError
	switch {
	case errors.Is(err, wifi.ErrBusy):
		return detail(c, http.StatusConflict, err.Error())
	case errors.Is(err, wifi.ErrForgetHotspot), errors.As(err, &sealed):
		return detail(c, http.StatusBadRequest, err.Error())
	case errors.As(err, &unknown):
		return detail(c, http.StatusNotFound, err.Error())
	case errors.Is(err, wifi.ErrUnavailable):
		g.badInput.Log(g.log, slog.LevelWarn, "wifi: NetworkManager not reachable", "path", c.Path(), "err", err)
		return detail(c, http.StatusServiceUnavailable, err.Error())
	}
	return g.fail(c, err, false)
}

func (g *Gateway) wifiStatus(c echo.Context) error {
	ctx, cancel := g.wifiCtx(c)
	defer cancel()
	st, err := g.cfg.Wifi.Status(ctx)
	if err != nil {
		return g.wifiFail(c, err)
	}
	o := wire.ObjStart(nil)
	o.String("mode", string(st.Mode))
	o.Key("known_networks")
	o.B = append(o.B, '[')
	for i, n := range st.KnownNetworks {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = wire.AppendString(o.B, n)
	}
	o.B = append(o.B, ']')
	if st.ConnectedNetwork == "" {
		o.Null("connected_network")
	} else {
		o.String("connected_network", st.ConnectedNetwork)
	}
	return jsonBytes(c, o.End())
}

func (g *Gateway) wifiError(c echo.Context) error {
	o := wire.ObjStart(nil)
	if text, ok := g.cfg.Wifi.LastError(); ok {
		o.String("error", text)
	} else {
		o.Null("error")
	}
	return jsonBytes(c, o.End())
}

func (g *Gateway) wifiResetError(c echo.Context) error {
	g.cfg.Wifi.ResetError()
	return jsonBytes(c, statusOK)
}

func (g *Gateway) wifiSetupHotspot(c echo.Context) error {
	q := c.QueryParams()
	ssidDef, passDef := wifi.HotspotSSID, wifi.HotspotPassword
	ssid, errs := validate.QueryString(q, "ssid", &ssidDef)
	password, errs2 := validate.QueryString(q, "password", &passDef)
	if errs = append(errs, errs2...); errs != nil {
		return invalid(c, errs)
	}
	if err := g.cfg.Wifi.SetupHotspot(ssid, password); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiConnect(c echo.Context) error {
	q := c.QueryParams()
	ssid, errs := validate.QueryString(q, "ssid", nil)
	password, errs2 := validate.QueryString(q, "password", nil)
	if errs = append(errs, errs2...); errs != nil {
		return invalid(c, errs)
	}
	if err := g.cfg.Wifi.Connect(ssid, password); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiScan(c echo.Context) error {
	ctx, cancel := g.wifiCtx(c)
	defer cancel()
	ssids, err := g.cfg.Wifi.Scan(ctx)
	if err != nil {
		return g.wifiFail(c, err)
	}
	b := []byte{'['}
	for i, s := range ssids {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, s)
	}
	return jsonBytes(c, append(b, ']'))
}

func (g *Gateway) wifiForget(c echo.Context) error {
	ssid, errs := validate.QueryString(c.QueryParams(), "ssid", nil)
	if errs != nil {
		return invalid(c, errs)
	}
	ctx, cancel := g.wifiCtx(c)
	defer cancel()
	if err := g.cfg.Wifi.Forget(ctx, ssid); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiForgetAll(c echo.Context) error {
	if err := g.cfg.Wifi.ForgetAll(); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiProvKey(c echo.Context) error {
	k, err := g.cfg.Wifi.ProvKey()
	if err != nil {
		return g.fail(c, err, false)
	}
	o := wire.ObjStart(nil)
	o.String("kid", k.Kid)
	o.String("pk", k.PK)
	o.String("alg", k.Alg)
	return jsonBytes(c, o.End())
}

func (g *Gateway) wifiConnectSealed(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	s, errs := decodeJSON(c, body, validate.SealedConnectFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	if err := g.cfg.Wifi.ConnectSealed(wifi.Sealed{SSID: s.SSID, Kid: s.Kid, EPK: s.EPK, Nonce: s.Nonce, CT: s.CT}); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}
