package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"reachyd/messages"
)

// gather collects the gateway's metrics into name -> "labels" -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, f := range fams {
		out[f.GetName()] = map[string]float64{}
		for _, m := range f.Metric {
			key := ""
			for _, l := range m.Label {
				key += l.GetName() + "=" + l.GetValue() + ","
			}
			out[f.GetName()][key] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// TestWebSocketMetrics checks the WebSocket accounting: live clients and
// their queue drops are read at scrape time; a client that goes keeps its
// drops in the endpoint's total and is counted by reason.
func TestWebSocketMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := routeOnlyGateway(false)
	g.cfg.Metrics = &MetricsConfig{Registry: reg}
	g.metricsRoutes()

	mk := func(ep string, policy messages.Overflow) *wsConn {
		w := &wsConn{g: g, out: messages.NewOutbox(1, policy), done: make(chan struct{}), endpoint: ep}
		g.wsMu.Lock()
		g.wsConns[w] = struct{}{}
		g.wsMu.Unlock()
		return w
	}
	gone := func(w *wsConn, reason string) {
		w.out.Close(reason)
		g.wsMu.Lock()
		delete(g.wsConns, w)
		g.wsGoneLocked(w)
		g.wsMu.Unlock()
	}
	a, b := mk("/ws/sdk", messages.DropOldest), mk("/ws/sdk", messages.DropOldest)
	for range 3 {
		a.out.Offer([]byte("x")) // capacity 1: two dropped
	}
	c := mk("/api/state/ws/full", messages.CloseWhenFull)
	c.out.Offer([]byte("x"))
	c.out.Offer([]byte("x")) // full: closed as a slow consumer
	m := gather(t, reg)
	if v := m["reachyd_websocket_clients"]["endpoint=/ws/sdk,"]; v != 2 {
		t.Errorf("sdk clients %v", v)
	}
	if v := m["reachyd_websocket_dropped_frames_total"]["endpoint=/ws/sdk,"]; v != 2 {
		t.Errorf("sdk drops %v", v)
	}
	gone(a, "closed")
	gone(c, "closed") // the first reason stays: slow consumer
	b.stalled.Store(true)
	gone(b, "closed")
	m = gather(t, reg)
	for k, want := range map[string]float64{
		"reachyd_websocket_clients endpoint=/ws/sdk,":                                           0,
		"reachyd_websocket_dropped_frames_total endpoint=/ws/sdk,":                              2,
		"reachyd_websocket_disconnects_total endpoint=/ws/sdk,reason=other,":                    1,
		"reachyd_websocket_disconnects_total endpoint=/ws/sdk,reason=write_timeout,":            1,
		"reachyd_websocket_disconnects_total endpoint=/api/state/ws/full,reason=slow_consumer,": 1,
	} {
		var name, labels string
		for i := range k {
			if k[i] == ' ' {
				name, labels = k[:i], k[i+1:]
				break
			}
		}
		if v, ok := m[name][labels]; !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", k, v, ok, want)
		}
	}
}

// TestHTTPMetricsRoutes checks the request labels: the route template,
// "unrouted" for paths no route serves, and the status class.
func TestHTTPMetricsRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := routeOnlyGateway(false)
	g.cfg.Metrics = &MetricsConfig{Registry: reg}
	g.metricsRoutes()
	for _, p := range []string{"/api/apps/job-status/abc", "/api/nothing/here", "/docs"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, p, nil)
		req.Host = "localhost"
		g.Handler().ServeHTTP(rec, req)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("BREW", "/docs", nil)
	req.Host = "localhost"
	g.Handler().ServeHTTP(rec, req)

	m := gather(t, reg)["reachyd_http_requests_total"]
	for _, k := range []string{
		"code=2xx,method=GET,route=/docs,",
		"code=4xx,method=GET,route=unrouted,",
		"code=4xx,method=other,route=/docs,",
	} {
		if m[k] != 1 {
			t.Errorf("%s = %v; all: %v", k, m[k], m)
		}
	}
	// The job-status handler asks an actor that is not there: whatever it
	// answers, it is under its template.
	n := 0.0
	for k, v := range m {
		if strings.Contains(k, "route=/api/apps/job-status/:job_id,") {
			n += v
		}
	}
	if n != 1 {
		t.Errorf("job-status requests %v; all: %v", n, m)
	}
}
