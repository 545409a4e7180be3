// Package gateway is reachyd's HTTP/WebSocket front door: an Echo server
// whose handlers decode and validate a request, ask the actor that owns the
// answer (with a deadline from the request), and write the reference
// daemon's response. No robot logic lives here.
//
// Routes are grouped as the reference groups its routers: daemon, state,
// move, motors, kinematics, media (with volume, camera and audio-board
// routes, answered by the media actor), apps (jobs), and the root routes
// (/, /health-check, /ws/sdk). The /ws/sdk command set is also served to
// the WebRTC data channel's peers with per-command replies (PeerCommand,
// datachannel.go), through the same validation and handlers.
//
// Tested in this package against a running actor tree on the simulated
// robot with a stand-in media actor (routes, bodies checked against the
// reference's OpenAPI document, data-channel replies, upload limits), and
// end to end in cmd/reachyd.
package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/labstack/echo/v4"
	"golang.org/x/net/netutil"

	"reachyd/actors/kit"
	"reachyd/actors/system"
	"reachyd/apps/rpcrelay"
	"reachyd/hfauth"
	"reachyd/http/validate"
	"reachyd/hw/camera"
	"reachyd/messages"
)

// Config configures the gateway.
type Config struct {
	// RobotName is accepted as a Host (with or without ".local").
	RobotName string
	// ExtraHosts are further accepted Host names (the bind host if it is a
	// name, names from the command line).
	ExtraHosts []string
	// HealthCheckTimeout, when positive, makes Watchdog fire after that long
	// without POST /health-check (the reference's --timeout-health-check).
	HealthCheckTimeout time.Duration
	// AskTimeout bounds every actor ask (default 3 s).
	AskTimeout time.Duration
	Log        *slog.Logger
	Version    string
	// Video, when set, is served as MJPEG under /api/v1/video.
	Video *camera.Broadcaster
	// AllowRawBus serves WS /api/move/ws/raw/write (--allow-raw-bus).
	AllowRawBus bool
	// MaxWebSockets caps the WebSocket clients connected at once, over
	// every endpoint and listener (default 256).
	MaxWebSockets int
	// MaxConnections caps the open connections of each listener (default
	// 1024); a connection beyond it is closed at once.
	MaxConnections int
	// SoundsDir is the folder the media actor keeps uploaded sounds in (the
	// reference's /tmp/reachy_mini_sounds): an upload answers with the path
	// of the sound in it, and network clients may play a sound by a path
	// only in it.
	SoundsDir string
	// SoundsStaging is where POST /api/media/sounds/upload writes a sound
	// while it arrives, before the media actor probes it and renames it into
	// SoundsDir: it must be on SoundsDir's file system. Created with mode
	// 0700 when missing. Default: SoundsDir + ".staging", beside it.
	SoundsStaging string
	// Broadcast, when set, receives the frames the reference broadcasts to
	// every client of every transport (play_uploaded_move,
	// play_uploaded_audio, update_progress), so that the WebRTC producer
	// sends them to its data-channel peers; ForwardBroadcasts feeds it.
	Broadcast func(frame []byte)
	// Surface configures the log streams, the cache routes and the robot
	// description (routes_surface.go).
	Surface SurfaceConfig
	// HFAuth runs the Hugging Face sign-in of /api/hf-auth
	// (routes_hfauth.go); nil: huggingface.co and huggingface_hub's token
	// paths, with the reference's OAuth app.
	HFAuth *hfauth.Service
	// Metrics, when set, takes the gateway's metrics and serves /metrics
	// (metrics.go).
	Metrics *MetricsConfig
}

// Gateway serves the API.
type Gateway struct {
	cfg  Config
	sys  *system.System
	e    *echo.Echo
	log  *slog.Logger
	host hostCheck

	healthMu   sync.Mutex
	lastHealth time.Time
	watchdog   chan struct{}

	wsMu      sync.Mutex
	wsConns   map[*wsConn]struct{}
	wsPending int // handshakes in progress

	// badInput throttles the log lines that clients cause at will (refused
	// requests, bad frames, wrong keys).
	badInput kit.LogThrottle

	surface surfaceState

	rpcOnce sync.Once
	rpcR    *rpcrelay.Relay // the data channel's JSON-RPC relay (datachannel.go)

	metrics *httpMetrics // metrics.go
}

// New builds the gateway for a running actor system.
func New(sys *system.System, cfg Config) *Gateway {
	if cfg.AskTimeout <= 0 {
		cfg.AskTimeout = 3 * time.Second
	}
	if cfg.MaxWebSockets <= 0 {
		cfg.MaxWebSockets = 256
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 1024
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.SoundsStaging == "" && cfg.SoundsDir != "" {
		cfg.SoundsStaging = filepath.Clean(cfg.SoundsDir) + ".staging"
	}
	g := &Gateway{
		cfg: cfg, sys: sys, log: cfg.Log.With("component", "gateway"),
		host:       newHostCheck(cfg.RobotName, cfg.ExtraHosts),
		lastHealth: time.Now(), watchdog: make(chan struct{}),
		wsConns: map[*wsConn]struct{}{}, metrics: newHTTPMetrics(),
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = g.errorHandler
	// Outermost first: CORS answers preflights before anything else, as
	// Starlette's CORSMiddleware does; then the Host check and the
	// cross-origin check, before a redirect could be followed; then recovery.
	e.Pre(g.instrument, g.cors, g.checkHost, g.crossOrigin, trailingSlash)
	e.Use(g.recoverer, g.bodyLimit(1<<20))
	g.e = e
	g.routes()
	g.v1Routes()
	g.videoRoutes()
	g.surfaceRoutes()
	g.metricsRoutes()
	g.routeSet()
	if cfg.HealthCheckTimeout > 0 {
		go g.watchHealth()
	}
	return g
}

// Handler returns the HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.e }

// Watchdog is closed when no health check arrived in time (only with
// HealthCheckTimeout > 0).
func (g *Gateway) Watchdog() <-chan struct{} { return g.watchdog }

// maxHeaderBytes bounds a request's headers (net/http answers 431 above).
const maxHeaderBytes = 64 << 10

// Serve serves the API on l until ctx ends, then shuts down gracefully.
func (g *Gateway) Serve(ctx context.Context, l net.Listener) error {
	defer g.CloseRPC()
	return g.serve(ctx, l, g.e, nil)
}

// ServeUnix serves the same API on a unix-socket listener, where callers
// with the daemon's uid (or root) may authenticate without an API key.
func (g *Gateway) ServeUnix(ctx context.Context, l net.Listener) error {
	return g.serve(ctx, l, g.e, peerContext)
}

// ServeTopics serves the topic bus WebSocket on its own listener.
func (g *Gateway) ServeTopics(ctx context.Context, l net.Listener) error {
	return g.serve(ctx, l, g.TopicsHandler(), nil)
}

func (g *Gateway) serve(ctx context.Context, l net.Listener, h http.Handler, connCtx func(context.Context, net.Conn) context.Context) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       connCtx,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	// At most MaxConnections open at once on a TCP listener: the next one
	// waits in the kernel's backlog until one closes (idle ones close after
	// IdleTimeout, header-less ones after ReadHeaderTimeout). The unix
	// socket is left as it is: only local users reach it, and peerContext
	// needs its *net.UnixConn, which the limit's wrapper would hide.
	if _, unix := l.(*net.UnixListener); !unix {
		l = netutil.LimitListener(l, g.cfg.MaxConnections)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.closeWebSockets("daemon shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// ---- asking actors -------------------------------------------------------

// askCtx derives the ask deadline from the request.
func (g *Gateway) askCtx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), g.cfg.AskTimeout)
}

func ask[T any](g *Gateway, c echo.Context, pid *actor.PID, msg any) (T, error) {
	ctx, cancel := g.askCtx(c)
	defer cancel()
	return kit.Ask[T](ctx, g.sys.Kit, pid, msg)
}

// ---- responses -------------------------------------------------------------

// detail writes the reference's {"detail": "..."} error body.
func detail(c echo.Context, status int, text string) error {
	b := appendDetail(nil, text)
	return c.Blob(status, echo.MIMEApplicationJSON, b)
}

func jsonBytes(c echo.Context, b []byte) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

func invalid(c echo.Context, errs validate.Errors) error {
	return c.Blob(errs.Status(), echo.MIMEApplicationJSON, errs.Body())
}

// statusOf maps an actor's error to the reference's status code.
func statusOf(err error) int {
	switch messages.KindOf(err) {
	case messages.KindBadRequest:
		return http.StatusBadRequest
	case messages.KindNotFound:
		return http.StatusNotFound
	case messages.KindConflict:
		return http.StatusConflict
	case messages.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case messages.KindUnavailable:
		return http.StatusServiceUnavailable
	case messages.KindUnauthorized:
		return http.StatusUnauthorized
	case messages.KindForbidden:
		return http.StatusForbidden
	case messages.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case messages.KindTooManyRequests:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// fail writes an actor error. Errors from the robot backend's actors that
// are not running (or restarting and not answering) are the reference's
// 503 "Backend not running".
func (g *Gateway) fail(c echo.Context, err error, backend bool) error {
	var me *messages.Error
	switch {
	case errors.As(err, &me):
		if me.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(me.RetryAfter.Seconds()))))
		}
		if statusOf(err) == http.StatusInternalServerError {
			g.log.Error("request failed", "path", c.Path(), "err", err)
		}
		// Never a server path in an answer (the log above keeps it).
		return detail(c, statusOf(err), messages.PublicText(me.Detail))
	case backend && (errors.Is(err, kit.ErrNoActor) || errors.Is(err, kit.ErrTimeout)):
		return detail(c, http.StatusServiceUnavailable, messages.ErrBackendNotRunning.Detail)
	case errors.Is(err, kit.ErrTimeout), errors.Is(err, kit.ErrNoActor):
		// A top-level actor restarting (or not started yet): try again.
		g.log.Warn("actor did not answer", "path", c.Path(), "err", err)
		return detail(c, http.StatusServiceUnavailable, "The daemon is busy; try again.")
	}
	g.log.Error("request failed", "path", c.Path(), "err", err)
	return c.String(http.StatusInternalServerError, "Internal Server Error")
}

// errorHandler answers Echo's own errors (unknown route, wrong method) the
// way FastAPI does.
func (g *Gateway) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		text := http.StatusText(he.Code)
		if he.Code == http.StatusNotFound {
			text = "Not Found"
		} else if he.Code == http.StatusMethodNotAllowed {
			text = "Method Not Allowed"
		} else if s, ok := he.Message.(string); ok && s != "" {
			text = s
		}
		_ = detail(c, he.Code, text)
		return
	}
	g.log.Error("handler error", "path", c.Path(), "err", err)
	_ = c.String(http.StatusInternalServerError, "Internal Server Error")
}

// recoverer turns a panic in a handler into the reference's plain 500.
func (g *Gateway) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				g.log.Error("handler panic", "path", c.Path(), "panic", r)
				if !c.Response().Committed {
					err = c.String(http.StatusInternalServerError, "Internal Server Error")
				}
			}
		}()
		return next(c)
	}
}

// bodyLimit refuses request bodies above n bytes with 413, before reading
// them when Content-Length says so (routes with a limit of their own are in
// routeBodyLimits), and gives every body a read deadline (see slowBody).
func (g *Gateway) bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			n, text := n, "Request body too large"
			if l, ok := routeBodyLimits[c.Path()]; ok {
				n, text = l.max, l.text
			}
			if r.ContentLength > n {
				return detail(c, http.StatusRequestEntityTooLarge, text)
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = &slowBody{ReadCloser: r.Body, rc: http.NewResponseController(c.Response()), start: time.Now()}
				r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			}
			return next(c)
		}
	}
}

// routeBodyLimit is a route's own body limit and the detail of its 413.
type routeBodyLimit struct {
	max  int64
	text string
}

// routeBodyLimits are the routes whose bodies may exceed the default 1 MiB.
var routeBodyLimits = map[string]routeBodyLimit{
	soundUploadPath: {maxSoundUpload, soundTooLarge},
}

// bodyGrace is how long the first bytes of a body may take (a variable
// for tests).
var bodyGrace = 10 * time.Second

const (
	// bodyMinRate is the slowest average rate a body may arrive at after
	// bodyGrace: 8 KiB/s, far below any real network and far above a
	// client that trickles a byte a second to hold a connection and a
	// handler.
	bodyMinRate = 8 << 10
)

// slowBody gives a request body a read deadline that moves with what has
// arrived: start + bodyGrace + bytes read / bodyMinRate. A body slower than
// that ends with a timeout error (and the connection is closed), so a slow
// sender cannot hold a handler. The deadline is the connection's, set
// through http.ResponseController before each read.
type slowBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	n     int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(b.start.Add(bodyGrace + time.Duration(b.n)*time.Second/bodyMinRate))
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		// Whole: net/http now watches the connection for the client going
		// away, which must not time out while the handler works.
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = errSlowBody
	}
	return n, err
}

// errSlowBody ends a body that arrived too slowly.
var errSlowBody = errors.New("request body arrived too slowly")

// readBody reads the request body under the body limit (an oversized body
// is an *http.MaxBytesError).
func readBody(c echo.Context) ([]byte, error) {
	if c.Request().Body == nil {
		return nil, nil
	}
	return io.ReadAll(c.Request().Body)
}

// bodyError answers a body that could not be read.
func bodyError(c echo.Context, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return detail(c, http.StatusRequestEntityTooLarge, "Request body too large")
	}
	if errors.Is(err, errSlowBody) {
		c.Response().Header().Set("Connection", "close")
		return detail(c, http.StatusRequestTimeout, "Request body arrived too slowly")
	}
	return detail(c, http.StatusBadRequest, "There was an error parsing the body")
}

// watchHealth closes the watchdog channel after HealthCheckTimeout without
// a health check.
func (g *Gateway) watchHealth() {
	t := time.NewTicker(g.cfg.HealthCheckTimeout / 4)
	defer t.Stop()
	for range t.C {
		g.healthMu.Lock()
		late := time.Since(g.lastHealth) > g.cfg.HealthCheckTimeout
		g.healthMu.Unlock()
		if late {
			g.log.Warn("no health check received in time; stopping", "timeout", g.cfg.HealthCheckTimeout)
			close(g.watchdog)
			return
		}
	}
}
