package gateway

// The browser dashboard served at / (issue 13): a page of plain HTML, CSS
// and JavaScript modules in http/gateway/dashboard/, built into the binary
// (the robot may be offline) and loading nothing from elsewhere. It talks
// to this daemon only through its public API, as any client does: REST,
// the state and move WebSockets, the job log streams, the skills API with
// an API key, and the WebRTC producer's signalling port for the camera.
//
// The page is same-origin, so the cross-origin checks (crossOrigin,
// wsOriginOK, SignallingCheck) let it change the robot's state without any
// exception: nothing here weakens them. Its responses carry a strict
// Content-Security-Policy: scripts, styles, images and connections from
// this daemon only, plus WebSockets to this host's API port and WebRTC
// signalling port. Tested in headless Chromium in
// cmd/reachyd/dashboard_test.go.

import (
	"context"
	"embed"
	"html"
	"mime"
	"net"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/messages"
)

//go:embed dashboard
var dashboardFiles embed.FS

// dashboardRoutes serves the page at / and its files under /dashboard/.
func (g *Gateway) dashboardRoutes() {
	g.e.GET("/", g.dashboardPage)
	g.e.GET("/dashboard/*", g.dashboardAsset)
}

func init() {
	apiDocs["GET /"] = opDoc{tag: "root", summary: "Dashboard", respType: "text/html",
		desc: "The browser dashboard (reachyd's; the reference serves a \"Web Dashboard Deprecated\" page here): " +
			"state, motors, moves, apps, skills, volume and camera, built into the daemon."}
	apiDocs["GET /dashboard/{path}"] = opDoc{tag: "root", summary: "The dashboard's scripts and style sheet", respType: "text/plain", ext: true}
}

// safeHost is a host name or IPv4 address that may be written into a CSP
// source expression as it is (the Host check let it through already; CSP
// has no syntax for IPv6 literals, which get 'self' only).
var safeHost = regexp.MustCompile(`^[A-Za-z0-9.-]{1,253}$`)

// dashboardCSP is the page's policy for a request to host (the Host
// header) with the WebRTC signalling server on sigPort: connect-src lists
// the page's own origin for ws: (Chromium's 'self' covers it; others may
// not) and the signalling port. A Host that is not a plain name or IPv4
// address with a numeric port adds nothing (FuzzDashboardCSP).
func dashboardCSP(host string, sigPort int) string {
	connect := "'self'"
	name, port, err := net.SplitHostPort(host)
	if err != nil {
		name, port = host, "80"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		name = "" // not a port: leave the host out
	} else {
		port = strconv.Itoa(n)
	}
	if safeHost.MatchString(name) {
		connect += " ws://" + name + ":" + port + " wss://" + name + ":" + port
		if sigPort > 0 && sigPort <= 65535 {
			p := strconv.Itoa(sigPort)
			connect += " ws://" + name + ":" + p + " wss://" + name + ":" + p
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
		"connect-src " + connect + "; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// signallingPort is the WebRTC signalling server's port as the media actor
// reports it (8443 by default), or 0 without media.
func (g *Gateway) signallingPort(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	m, err := kit.Ask[messages.MediaStatus](ctx, g.sys.Kit, g.mediaOwner(), &messages.GetMediaStatus{})
	if err != nil || m.Detail == nil || m.Detail.Signalling == "" {
		return 0
	}
	_, p, err := net.SplitHostPort(m.Detail.Signalling)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

func (g *Gateway) dashboardHeaders(c echo.Context, csp string) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

// dashboardPage serves index.html with the daemon's version written in.
func (g *Gateway) dashboardPage(c echo.Context) error {
	b, err := dashboardFiles.ReadFile("dashboard/index.html")
	if err != nil {
		return err
	}
	page := strings.ReplaceAll(string(b), "{{VERSION}}", html.EscapeString(g.cfg.Version))
	g.dashboardHeaders(c, dashboardCSP(c.Request().Host, g.signallingPort(c.Request().Context())))
	return c.Blob(http.StatusOK, "text/html; charset=utf-8", []byte(page))
}

// dashboardAsset serves the page's scripts and style sheet.
func (g *Gateway) dashboardAsset(c echo.Context) error {
	name := path.Clean("/" + c.Param("*"))
	b, err := dashboardFiles.ReadFile("dashboard" + name)
	if err != nil || name == "/index.html" {
		return detail(c, http.StatusNotFound, "Not Found")
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	g.dashboardHeaders(c, dashboardCSP(c.Request().Host, 0))
	return c.Blob(http.StatusOK, ct, b)
}
