package gateway

import (
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"reachyd/messages/wire"
)

// corsOrigin is the reference's allow_origin_regex, matched in full.
var corsOrigin = regexp.MustCompile(`^(?:https?://(localhost|127\.0\.0\.1)(:\d+)?|tauri://localhost|https?://tauri\.localhost|capacitor://localhost)$`)

const corsMethods = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"

// cors is Starlette's CORSMiddleware as the reference configures it: any
// method and header, no credentials, origins matching the regex. A
// preflight from another origin is refused with 400; a simple request from
// one gets no Access-Control-Allow-Origin header.
func (g *Gateway) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		origin := r.Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		h := c.Response().Header()
		allowed := corsOrigin.MatchString(origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Origin")
			if !allowed {
				return c.String(http.StatusBadRequest, "Disallowed CORS origin")
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Max-Age", "600")
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
			}
			return c.String(http.StatusOK, "OK")
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
		}
		return next(c)
	}
}

// hostCheck guards against DNS rebinding: a web page on an attacker's name
// that resolves to 127.0.0.1 must not reach the robot. Accepted: localhost
// (and *.localhost), any IP literal, *.local (mDNS names, the robot's own
// included), the robot's name and any configured names.
type hostCheck struct{ names map[string]bool }

func newHostCheck(robot string, extra []string) hostCheck {
	h := hostCheck{names: map[string]bool{}}
	add := func(n string) {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n != "" {
			h.names[n] = true
		}
	}
	if robot != "" {
		add(robot)
		add(strings.ReplaceAll(robot, "_", "-"))
	}
	for _, n := range extra {
		add(n)
	}
	return h
}

func (h hostCheck) ok(hostport string) bool {
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	switch {
	case host == "":
		return true // HTTP/1.0 without Host: no browser sends that
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true
	case net.ParseIP(host) != nil:
		return true
	case strings.HasSuffix(host, ".local"):
		return true
	}
	return h.names[host]
}

// crossOrigin guards state-changing requests against cross-site request
// forgery. CORS only hides the answer from a foreign page: a form or a
// no-cors fetch still reaches the handler. A request with any method but
// GET, HEAD and OPTIONS is refused with 403 when a browser says it comes from
// another origin (Sec-Fetch-Site other than same-origin or none, or, from
// browsers that do not send it, an Origin whose host is not the Host), unless
// its Origin is one the CORS policy allows (the desktop and mobile apps,
// pages on localhost: their webviews send Sec-Fetch-Site: cross-site).
// Clients that send neither header (the SDKs, curl, scripts) are not
// browsers and pass. The check itself is net/http's CrossOriginProtection.
func (g *Gateway) crossOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	cop := http.NewCrossOriginProtection()
	return func(c echo.Context) error {
		r := c.Request()
		if origin := r.Header.Get("Origin"); origin != "" && corsOrigin.MatchString(origin) {
			return next(c)
		}
		if err := cop.Check(r); err != nil {
			g.badInput.Log(g.log, slog.LevelInfo, "cross-origin request refused", "method", r.Method, "path", r.URL.Path,
				"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
			return detail(c, http.StatusForbidden, "Cross-origin request refused: a web page from another origin cannot change the robot's state")
		}
		return next(c)
	}
}

func (g *Gateway) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !g.host.ok(c.Request().Host) {
			return c.String(http.StatusBadRequest, "Invalid host header")
		}
		return next(c)
	}
}

// sameOriginOrTrusted decides whether a browser may open a WebSocket: no
// Origin (not a browser: the SDKs), an origin the CORS policy allows, or a
// page served by this very host. Browsers do not apply CORS to WebSockets,
// so without this any web page could drive the robot through localhost.
func (g *Gateway) wsOriginOK(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || corsOrigin.MatchString(origin) {
		return true
	}
	if i := strings.Index(origin, "://"); i >= 0 {
		return strings.EqualFold(origin[i+3:], r.Host)
	}
	return false
}

func appendDetail(b []byte, text string) []byte {
	o := wire.ObjStart(b)
	o.String("detail", text)
	return o.End()
}

// trailingSlash redirects "/path/" to "/path" with 307, as FastAPI's
// redirect_slashes does, keeping the method and body.
func trailingSlash(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		p := r.URL.Path
		// The skills API (/api/v1) is served as its client spells it: never
		// redirected.
		if len(p) > 1 && strings.HasSuffix(p, "/") && !strings.Contains(p, "/recorded-move-dataset") && !strings.HasPrefix(p, "/api/v1/") {
			u := *r.URL
			u.Path = strings.TrimRight(p, "/")
			u.RawPath = ""
			return c.Redirect(http.StatusTemporaryRedirect, u.String())
		}
		return next(c)
	}
}

// SignallingCheck returns the check of the WebRTC signalling server's
// WebSocket upgrades (:8443), which lead to the data channel that drives
// the robot: the Host must pass the DNS-rebinding guard, and a browser's
// Origin must be one the CORS policy allows or a page of the robot itself
// (same host name, any port: the dashboard on :8000). Clients that are not
// browsers send no Origin and pass.
func SignallingCheck(robotName string, extraHosts []string) func(*http.Request) bool {
	hosts := newHostCheck(robotName, extraHosts)
	return func(r *http.Request) bool {
		if !hosts.ok(r.Host) {
			return false
		}
		origin := r.Header.Get("Origin")
		if origin == "" || corsOrigin.MatchString(origin) {
			return true
		}
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return false
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		return strings.EqualFold(u.Hostname(), strings.Trim(host, "[]"))
	}
}
