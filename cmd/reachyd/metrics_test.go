package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"reachyd/actors/kit"
	"reachyd/actors/system"
)

// scrapeURL gets url and parses it with Prometheus's own text parser.
func scrapeURL(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// metricValue is the value of family name's series whose labels include
// the given name, value pairs (the sum over all matching series).
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			ok := false
			for _, l := range m.Label {
				ok = ok || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			if !ok {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// waitMetric scrapes url until cond holds for the metric's value.
func waitMetric(t *testing.T, url string, what string, cond func(v float64, ok bool) bool, name string, labels ...string) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams := scrapeURL(t, url)
		v, ok := metricValue(fams, name, labels...)
		if cond(v, ok) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s%v = %v (present %v)", what, name, labels, v, ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func atLeast(n float64) func(float64, bool) bool {
	return func(v float64, ok bool) bool { return ok && v >= n }
}
func exactly(n float64) func(float64, bool) bool {
	return func(v float64, ok bool) bool { return ok && v == n }
}

// TestMetricsMoveWithTheDaemon scrapes /metrics on the API of a running
// daemon and checks that the counters follow what the daemon does.
func TestMetricsMoveWithTheDaemon(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	url := d.base + "/metrics"

	fams := scrapeURL(t, url)
	// Only our metrics, the runtime's and the process's: nothing a
	// library registered by itself (the registry is our own).
	for name := range fams {
		if !strings.HasPrefix(name, "reachyd_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("unexpected metric %s", name)
		}
	}
	if v, _ := metricValue(fams, "reachyd_control_loop_configured_rate_hz"); v != 50 {
		t.Errorf("configured rate %v Hz, want the default 50", v)
	}

	// The control loop ticks and talks to every motor.
	ticks, _ := metricValue(fams, "reachyd_control_loop_ticks_total")
	fams = waitMetric(t, url, "ticks", atLeast(ticks+10), "reachyd_control_loop_ticks_total")
	waitMetric(t, url, "measured rate", func(v float64, ok bool) bool { return v > 40 && v < 60 }, "reachyd_control_loop_rate_hz")
	if v, _ := metricValue(fams, "reachyd_control_loop_tick_lateness_seconds"); v < ticks+10 {
		t.Errorf("lateness histogram holds %v ticks, want at least %v", v, ticks+10)
	}
	for _, m := range []string{"body_rotation", "stewart_1", "left_antenna"} {
		if v, _ := metricValue(fams, "reachyd_bus_exchanges_total", "motor", m); v < 10 {
			t.Errorf("%s: %v bus exchanges", m, v)
		}
	}
	if _, ok := metricValue(fams, "reachyd_bus_errors_total", "motor", "stewart_1", "id", "11", "kind", "timeout"); !ok {
		t.Error("no timeout series for stewart_1 (id 11)")
	}

	// An HTTP request is counted under its route template, not its path.
	if code, _ := d.do("GET", "/api/apps/job-status/not-a-job-4242", nil); code == 200 {
		t.Fatal("a job that does not exist was found")
	}
	fams = waitMetric(t, url, "job-status request", atLeast(1), "reachyd_http_requests_total",
		"method", "GET", "route", "/api/apps/job-status/:job_id", "code", "4xx")
	d.do("GET", "/no/such/route/4242", nil)
	fams = waitMetric(t, url, "unrouted request", atLeast(1), "reachyd_http_requests_total", "route", "unrouted", "code", "4xx")
	if _, ok := metricValue(fams, "reachyd_http_request_duration_seconds", "route", "/api/apps/job-status/:job_id"); !ok {
		t.Error("no latency for the job-status route")
	}
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.Contains(l.GetValue(), "4242") {
					t.Errorf("a raw path in a label: %s{%s=%q}", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}

	// A WebSocket client shows in the gauge while connected, and goes.
	const ep = "/api/move/ws/updates"
	c, _, err := websocket.DefaultDialer.Dial(d.ws+ep, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitMetric(t, url, "connected client", exactly(1), "reachyd_websocket_clients", "endpoint", ep)
	c.Close()
	waitMetric(t, url, "gone client", exactly(0), "reachyd_websocket_clients", "endpoint", ep)
	waitMetric(t, url, "disconnect", exactly(1), "reachyd_websocket_disconnects_total", "endpoint", ep, "reason", "other")

	// A crashed actor is restarted, and the decision counted.
	d.sys.Kit.Tell(d.sys.Hub, &kit.Crash{Reason: "metrics test"})
	fams = waitMetric(t, url, "hub restart", atLeast(1), "reachyd_actor_restarts_total", "actor", "hub")
	if v, _ := metricValue(fams, "reachyd_supervision_decisions_total", "actor", "hub", "directive", "restart"); v < 1 {
		t.Errorf("no restart decision for the hub: %v", v)
	}
}

// TestMetricsCountAppRuns runs an app that fails: one run, one failure,
// and the install and app jobs.
func TestMetricsCountAppRuns(t *testing.T) {
	d := startDaemon(t)
	d.waitRunning()
	url := d.base + "/metrics"
	d.installLocal("failing", writeExecApp(t, "failing", "echo starting; exit 3\n"))
	if code, body := d.do("POST", "/api/apps/start-app/failing", nil); code != 200 {
		t.Fatalf("start: %d %s", code, body)
	}
	fams := waitMetric(t, url, "app exit", exactly(1), "reachyd_app_exits_total", "exit", "failure")
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"reachyd_app_runs_total", nil, 1},
		{"reachyd_app_exits_total", []string{"exit", "success"}, 0},
		{"reachyd_jobs_total", []string{"kind", "install", "status", "done"}, 1},
	} {
		if v, ok := metricValue(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (%v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	waitMetric(t, url, "app job", exactly(1), "reachyd_jobs_total", "kind", "app", "status", "failed")
}

// TestMetricsAddr: with --metrics-addr the metrics are on their own
// listener and not on the API; with --no-metrics, nowhere.
func TestMetricsAddr(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	d := startDaemon(t, "--metrics-addr", addr)
	d.waitRunning()
	fams := scrapeURL(t, "http://"+addr+"/metrics")
	if _, ok := fams["reachyd_control_loop_ticks_total"]; !ok {
		t.Fatal("no control loop metrics on the metrics listener")
	}
	if code, _ := d.do("GET", "/metrics", nil); code != 404 {
		t.Errorf("GET /metrics on the API: %d, want 404", code)
	}
	// The listener serves only GET /metrics.
	resp, err := http.Post("http://"+addr+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET / on the metrics listener: %d", resp.StatusCode)
	}
	// The gateway's metrics are still collected (on the other listener).
	d.do("GET", "/api/daemon/status", nil)
	waitMetric(t, "http://"+addr+"/metrics", "status request", atLeast(1), "reachyd_http_requests_total", "route", "/api/daemon/status")

	for _, off := range [][]string{{"--no-metrics"}, {"--metrics-addr", "off"}} {
		d := startDaemon(t, off...)
		if code, _ := d.do("GET", "/metrics", nil); code != 404 {
			t.Errorf("%v: GET /metrics %d, want 404", off, code)
		}
	}
	for _, bad := range []string{"nonsense", "127.0.0.1", "256.0.0.1:1"} {
		if ms, err := prepareMetrics(&Options{MetricsAddr: bad}, &system.Config{}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
			ms.close()
			t.Errorf("--metrics-addr %s: %v", bad, err)
		}
	}
}
