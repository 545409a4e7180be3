package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
	"reachyd/wifi"
)

// The Wi-Fi routes (the reference's routers/wifi_config.py, served at the
// root under /wifi and only by the Wireless robot's daemon: the Wi-Fi
// actor runs with --wireless-version). Each route asks the Wi-Fi actor
// (actors/wifi). Operations that change the network answer at once with
// null and run in the background; one at a time, another one asked
// meanwhile is the reference's 409. Where the reference lets an nmcli
// failure escape as a bare 500, reachyd answers 503 with the reason
// (NetworkManager not reachable). POSTs go through the cross-origin check
// like every other route.

func (g *Gateway) wifiRoutes() {
	if g.sys.Wifi == nil {
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
// reads a few objects; a scan waits up to 10 s for the radio); the others
// are answered at once, within the usual ask timeout.
const wifiTimeout = 30 * time.Second

// wifiAsk asks the Wi-Fi actor within the request's deadline, bounded by
// wifiTimeout when slow (the query waits for NetworkManager) and by the
// usual ask timeout otherwise. setDeadline, when set, passes the deadline
// on to the message, for the actor to bound its D-Bus calls by it.
func wifiAsk[T any](g *Gateway, c echo.Context, slow bool, msg any, setDeadline func(time.Time)) (T, error) {
	var ctx context.Context
	var cancel context.CancelFunc
	if slow {
		ctx, cancel = context.WithTimeout(c.Request().Context(), wifiTimeout)
	} else {
		ctx, cancel = g.askCtx(c)
	}
	defer cancel()
	if setDeadline != nil {
		d, _ := ctx.Deadline()
		setDeadline(d)
	}
	return kit.Ask[T](ctx, g.sys.Kit, g.sys.Wifi, msg)
}

// wifiFail answers an error of the Wi-Fi actor. The 409, 400 and 404
// details are package wifi's own texts and go out as they are (an SSID
// may hold a slash); the others go through g.fail, which cuts server
// paths (the bus socket's) out of the detail.
func (g *Gateway) wifiFail(c echo.Context, err error) error {
	switch messages.KindOf(err) {
	case messages.KindConflict:
		return detail(c, http.StatusConflict, err.Error())
	case messages.KindBadRequest:
		return detail(c, http.StatusBadRequest, err.Error())
	case messages.KindNotFound:
		return detail(c, http.StatusNotFound, err.Error())
	case messages.KindUnavailable:
		g.badInput.Log(g.log, slog.LevelWarn, "wifi: NetworkManager not reachable", "path", c.Path(), "err", err)
	}
	return g.fail(c, err, false)
}

func (g *Gateway) wifiStatus(c echo.Context) error {
	m := &messages.GetWifiStatus{}
	st, err := wifiAsk[messages.WifiStatus](g, c, true, m, func(d time.Time) { m.Deadline = d })
	if err != nil {
		return g.wifiFail(c, err)
	}
	o := wire.ObjStart(nil)
	o.String("mode", st.Mode)
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
	e, err := wifiAsk[messages.WifiError](g, c, false, &messages.GetWifiError{}, nil)
	if err != nil {
		return g.wifiFail(c, err)
	}
	o := wire.ObjStart(nil)
	if e.Set {
		o.String("error", e.Error)
	} else {
		o.Null("error")
	}
	return jsonBytes(c, o.End())
}

func (g *Gateway) wifiResetError(c echo.Context) error {
	if _, err := wifiAsk[messages.WifiOK](g, c, false, &messages.ResetWifiError{}, nil); err != nil {
		return g.wifiFail(c, err)
	}
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
	if _, err := wifiAsk[messages.WifiOK](g, c, false, &messages.SetupWifiHotspot{SSID: ssid, Password: password}, nil); err != nil {
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
	if _, err := wifiAsk[messages.WifiOK](g, c, false, &messages.ConnectWifi{SSID: ssid, Password: password}, nil); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiScan(c echo.Context) error {
	m := &messages.ScanWifi{}
	nets, err := wifiAsk[messages.WifiNetworks](g, c, true, m, func(d time.Time) { m.Deadline = d })
	if err != nil {
		return g.wifiFail(c, err)
	}
	b := []byte{'['}
	for i, s := range nets.SSIDs {
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
	m := &messages.ForgetWifi{SSID: ssid}
	if _, err := wifiAsk[messages.WifiOK](g, c, true, m, func(d time.Time) { m.Deadline = d }); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiForgetAll(c echo.Context) error {
	if _, err := wifiAsk[messages.WifiOK](g, c, false, &messages.ForgetAllWifi{}, nil); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}

func (g *Gateway) wifiProvKey(c echo.Context) error {
	k, err := wifiAsk[messages.WifiProvKey](g, c, false, &messages.GetWifiProvKey{}, nil)
	if err != nil {
		return g.wifiFail(c, err)
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
	m := &messages.ConnectWifiSealed{SSID: s.SSID, Kid: s.Kid, EPK: s.EPK, Nonce: s.Nonce, CT: s.CT}
	if _, err := wifiAsk[messages.WifiOK](g, c, false, m, nil); err != nil {
		return g.wifiFail(c, err)
	}
	return jsonBytes(c, jsonNull)
}
