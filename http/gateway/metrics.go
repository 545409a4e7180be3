package gateway

import (
	"errors"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricsConfig connects the gateway to the metrics registry.
type MetricsConfig struct {
	// Registry receives the gateway's collector: HTTP requests and
	// latency per route, WebSocket clients and their drops.
	Registry prometheus.Registerer
	// Handler, when set, is served as GET /metrics on the API (the
	// default); nil when the metrics have a listener of their own
	// (--metrics-addr) and are not on the API.
	Handler http.Handler
}

// httpMetrics and wsMetrics are the gateway's metrics. They are made
// whether or not a registry takes them (a few counters), so the
// middleware and the WebSocket code need no checks.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	// WebSocket clients that went away: their drops and why they left,
	// per endpoint. The live ones are read from Gateway.wsConns at scrape
	// time. Guarded by Gateway.wsMu.
	wsGone map[string]*wsTotals
	// routes are the route templates (set once, before serving).
	routes map[string]bool
}

type wsTotals struct {
	dropped     uint64
	disconnects map[string]uint64 // by reason
}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reachyd_http_requests_total",
			Help: "HTTP requests answered by the API, by method, route template (not the raw path, to bound the label's values; \"unrouted\" for requests refused before routing or matching no route) and status class (2xx, 4xx...)."},
			[]string{"method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "reachyd_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route template, in seconds (WebSocket upgrades, which last as long as the connection, are left out): slow routes show where actors answer late.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"method", "route"}),
		wsGone: map[string]*wsTotals{},
	}
}

var (
	wsClientsDesc = prometheus.NewDesc("reachyd_websocket_clients",
		"WebSocket clients connected now, by endpoint (route template; \"topics\" for the topic bus listener).", []string{"endpoint"}, nil)
	wsDroppedDesc = prometheus.NewDesc("reachyd_websocket_dropped_frames_total",
		"Frames dropped from WebSocket clients' full queues (state streams drop their oldest frame rather than slow the robot), by endpoint: a client that cannot keep up.", []string{"endpoint"}, nil)
	wsDisconnectsDesc = prometheus.NewDesc("reachyd_websocket_disconnects_total",
		"WebSocket clients that went away, by endpoint and reason: slow_consumer (its queue of frames that must all arrive overflowed), write_timeout (its socket stayed full for 5 s), other (closed by either side).", []string{"endpoint", "reason"}, nil)
)

// gatewayCollector reads the gateway's metrics at scrape time.
type gatewayCollector struct{ g *Gateway }

func (c gatewayCollector) Describe(ch chan<- *prometheus.Desc) {
	c.g.metrics.requests.Describe(ch)
	c.g.metrics.latency.Describe(ch)
	ch <- wsClientsDesc
	ch <- wsDroppedDesc
	ch <- wsDisconnectsDesc
}

func (c gatewayCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.g
	g.metrics.requests.Collect(ch)
	g.metrics.latency.Collect(ch)
	clients := map[string]int{}
	dropped := map[string]uint64{}
	disc := map[string]map[string]uint64{}
	g.wsMu.Lock()
	for w := range g.wsConns {
		clients[w.endpoint]++
		d, _ := w.out.Stats()
		dropped[w.endpoint] += d
	}
	for ep, t := range g.metrics.wsGone {
		dropped[ep] += t.dropped
		disc[ep] = make(map[string]uint64, len(t.disconnects))
		for r, n := range t.disconnects {
			disc[ep][r] = n
		}
	}
	g.wsMu.Unlock()
	for ep := range dropped {
		ch <- prometheus.MustNewConstMetric(wsClientsDesc, prometheus.GaugeValue, float64(clients[ep]), ep)
		ch <- prometheus.MustNewConstMetric(wsDroppedDesc, prometheus.CounterValue, float64(dropped[ep]), ep)
	}
	for ep, rs := range disc {
		for r, n := range rs {
			ch <- prometheus.MustNewConstMetric(wsDisconnectsDesc, prometheus.CounterValue, float64(n), ep, r)
		}
	}
}

// wsGoneLocked accounts for a WebSocket client that went away (with
// g.wsMu held): its drops join the endpoint's total, and its reason is
// counted.
func (g *Gateway) wsGoneLocked(w *wsConn) {
	t := g.metrics.wsGone[w.endpoint]
	if t == nil {
		t = &wsTotals{disconnects: map[string]uint64{}}
		g.metrics.wsGone[w.endpoint] = t
	}
	d, _ := w.out.Stats()
	t.dropped += d
	reason := "other"
	switch {
	case w.out.Reason() == "slow consumer":
		reason = "slow_consumer"
	case w.stalled.Load():
		reason = "write_timeout"
	}
	t.disconnects[reason]++
}

// isWriteTimeout tells a write that hit its deadline (the client stopped
// reading) from a connection that went away.
func isWriteTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// instrument counts every request and times it, by route template. It is
// the outermost middleware, so requests refused by the others (CORS, Host
// check) are counted too; it answers errors itself (Echo's error handler)
// so the status it records is the one sent.
func (g *Gateway) instrument(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		method := c.Request().Method
		if !methods[method] {
			method = "other"
		}
		route := c.Path()
		if !g.metrics.routes[route] {
			// Refused before routing, or the router's nearest node for a
			// path matching no route: not a route template.
			route = "unrouted"
		}
		status := c.Response().Status
		g.metrics.requests.WithLabelValues(method, route, strconv.Itoa(status/100)+"xx").Inc()
		if status != http.StatusSwitchingProtocols {
			g.metrics.latency.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		}
		return nil
	}
}

// metricsRoutes registers the gateway's collector and serves GET /metrics
// when the metrics are on the API.
func (g *Gateway) metricsRoutes() {
	mc := g.cfg.Metrics
	if mc == nil {
		return
	}
	if mc.Registry != nil {
		mc.Registry.MustRegister(gatewayCollector{g})
	}
	if mc.Handler != nil {
		g.e.GET("/metrics", echo.WrapHandler(mc.Handler))
	}
}

// routeSet lists the route templates, for instrument, once every route is
// registered.
func (g *Gateway) routeSet() {
	g.metrics.routes = map[string]bool{}
	for _, r := range g.e.Routes() {
		g.metrics.routes[r.Path] = true
	}
}
