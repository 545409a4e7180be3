package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"reachyd/actors/kit"
	"reachyd/actors/media"
	"reachyd/hw/dynamixel"
	"reachyd/internal/loopstats"
	"reachyd/messages"
)

// scrape serves m over HTTP and parses the answer as Prometheus does.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value returns the value of the metric of family name whose labels
// include labels (name=value pairs); ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestLoopAndBusCollectors(t *testing.T) {
	var loop loopstats.Loop
	loop.SetPeriod(5 * time.Millisecond)
	t0 := time.Now().Add(-2 * time.Second)
	for i := 0; i < 300; i++ {
		loop.Tick(t0.Add(time.Duration(i)*5*time.Millisecond), time.Duration(i%4)*time.Millisecond)
	}
	loop.Missed(2)
	var ctr dynamixel.Counters
	m := New(Options{Loop: &loop, Bus: &ctr, Motors: []Motor{{"body_rotation", 10}, {"stewart_1", 11}},
		Now: func() time.Time { return t0.Add(1500 * time.Millisecond) }})
	fams := scrape(t, m)
	for name, want := range map[string]float64{
		"reachyd_control_loop_ticks_total":           300,
		"reachyd_control_loop_missed_slots_total":    2,
		"reachyd_control_loop_configured_rate_hz":    200,
		"reachyd_control_loop_tick_lateness_seconds": 300,
		"reachyd_bus_exchanges_total":                0,
	} {
		if v, ok := value(fams, name); !ok || v != want {
			t.Errorf("%s = %v (%v), want %v", name, v, ok, want)
		}
	}
	if v, _ := value(fams, "reachyd_control_loop_rate_hz"); v < 199 || v > 202 {
		t.Errorf("measured rate %v Hz, want about 200", v)
	}
	// The histogram's buckets are cumulative, in seconds: lateness 0 and
	// 1 ms fall at or below 1 ms; 2 ms below 2 ms; 3 ms below 5 ms.
	h := fams["reachyd_control_loop_tick_lateness_seconds"].Metric[0].Histogram
	for _, b := range h.Bucket {
		var want uint64
		switch ub := b.GetUpperBound(); {
		case ub < 0.001:
			want = 75
		case ub < 0.002:
			want = 150
		case ub < 0.005:
			want = 225
		default:
			want = 300
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if s := h.GetSampleSum(); s < 0.449 || s > 0.451 {
		t.Errorf("lateness sum %v s, want 0.45", s)
	}

	// Bus counts show up under the motor's name and id.
	c := dynamixel.NewClient(silentPort{}, dynamixel.Config{Margin: time.Millisecond, Attempts: 2, RetryPause: -1})
	c.SetCounters(&ctr)
	_, _ = c.Read(11, dynamixel.AddrPresentPosition, 4)
	fams = scrape(t, m)
	if v, _ := value(fams, "reachyd_bus_exchanges_total", "motor", "stewart_1", "id", "11"); v != 2 {
		t.Errorf("stewart_1 exchanges %v, want 2", v)
	}
	if v, _ := value(fams, "reachyd_bus_errors_total", "motor", "stewart_1", "kind", "timeout"); v != 2 {
		t.Errorf("stewart_1 timeouts %v, want 2", v)
	}
	if v, ok := value(fams, "reachyd_bus_errors_total", "motor", "body_rotation", "kind", "corrupt"); !ok || v != 0 {
		t.Errorf("body_rotation corrupt %v %v, want a 0", v, ok)
	}
	// The runtime and process collectors are there.
	for _, n := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams[n]; !ok {
			t.Errorf("no %s", n)
		}
	}
}

// silentPort is a bus on which nobody answers.
type silentPort struct{}

func (silentPort) Write(b []byte) (int, error)        { return len(b), nil }
func (silentPort) Read([]byte) (int, error)           { time.Sleep(100 * time.Microsecond); return 0, nil }
func (silentPort) SetReadTimeout(time.Duration) error { return nil }

func TestEventCounters(t *testing.T) {
	ks := kit.NewSystem(nil)
	defer ks.Shutdown()
	before := ks.Subscriptions()
	m := New(Options{Kit: ks})
	ks.Publish(messages.SupervisionEvent{Child: "reachyd/daemon/robot/motorbus", Directive: messages.DirectiveRestart})
	ks.Publish(messages.SupervisionEvent{Child: "reachyd/daemon/robot/motorbus", Directive: messages.DirectiveRestart})
	ks.Publish(messages.SupervisionEvent{Child: "reachyd/hub", Directive: messages.DirectiveRespawn})
	ks.Publish(messages.SupervisionEvent{Child: "reachyd/appmon/run-17", Directive: messages.DirectiveStop})
	for _, b := range []messages.JobBatch{
		{ID: "a", Command: "install hello_app", Status: messages.JobPending},
		{ID: "a", Command: "install hello_app", Status: messages.JobInProgress, Lines: []string{"x"}},
		{ID: "a", Command: "install hello_app", Status: messages.JobInProgress, Lines: []string{"y"}},
		{ID: "a", Command: "install hello_app", Status: messages.JobDone},
		{ID: "b", Command: "app hello_app", Status: messages.JobInProgress},
		{ID: "b", Command: "app hello_app", Status: messages.JobFailed},
	} {
		ks.Publish(b)
	}
	ks.Publish(messages.AppProcessEvent{})
	ks.Publish(messages.AppProcessEvent{})
	ks.Publish(messages.AppProcessEvent{Exit: &messages.AppExitInfo{Code: 0}})
	ks.Publish(messages.AppProcessEvent{Exit: &messages.AppExitInfo{Code: 3}})
	ks.Publish(messages.AppProcessEvent{Exit: &messages.AppExitInfo{Code: -1, Signal: "SIGTERM"}})
	ks.Publish(messages.AppProcessEvent{StartErr: "no python"})

	fams := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"reachyd_actor_restarts_total", []string{"actor", "daemon/robot/motorbus"}, 2},
		{"reachyd_actor_restarts_total", []string{"actor", "hub"}, 1},
		{"reachyd_supervision_decisions_total", []string{"actor", "hub", "directive", "respawn"}, 1},
		{"reachyd_supervision_decisions_total", []string{"actor", "appmon/run-*", "directive", "stop"}, 1},
		{"reachyd_jobs_total", []string{"kind", "install", "status", "pending"}, 1},
		{"reachyd_jobs_total", []string{"kind", "install", "status", "in_progress"}, 1},
		{"reachyd_jobs_total", []string{"kind", "install", "status", "done"}, 1},
		{"reachyd_jobs_total", []string{"kind", "app", "status", "failed"}, 1},
		{"reachyd_app_runs_total", nil, 2},
		{"reachyd_app_exits_total", []string{"exit", "success"}, 1},
		{"reachyd_app_exits_total", []string{"exit", "failure"}, 1},
		{"reachyd_app_exits_total", []string{"exit", "signal"}, 1},
		{"reachyd_app_exits_total", []string{"exit", "start_failed"}, 1},
	} {
		if v, ok := value(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (%v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if _, ok := value(fams, "reachyd_actor_restarts_total", "actor", "appmon/run-*"); ok {
		t.Error("a stop counted as a restart")
	}
	m.Close()
	if n := ks.Subscriptions(); n != before {
		t.Fatalf("%d subscriptions after Close, want %d", n, before)
	}
}

func TestLabels(t *testing.T) {
	for in, want := range map[string]string{
		"reachyd/daemon/robot/motorbus": "daemon/robot/motorbus",
		"reachyd/appmon/run-12":         "appmon/run-*",
		"reachyd/daemon/robot/$34":      "daemon/robot/$*",
		"reachyd/run-x":                 "run-x",
	} {
		if got := ActorLabel(in); got != want {
			t.Errorf("ActorLabel(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"app hello": "app", "update": "update", "": "other", " install x": "install"} {
		if got := JobKind(in); got != want {
			t.Errorf("JobKind(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMediaCollector reads the media cell: off without a producer, no
// sessions.
func TestMediaCollector(t *testing.T) {
	m := New(Options{Media: media.NewCell("")})
	fams := scrape(t, m)
	if v, ok := value(fams, "reachyd_media_available"); !ok || v != 0 {
		t.Errorf("media available %v %v, want 0", v, ok)
	}
	for _, relay := range []string{"true", "false"} {
		if v, ok := value(fams, "reachyd_media_sessions", "relay", relay); !ok || v != 0 {
			t.Errorf("sessions relay=%s: %v %v", relay, v, ok)
		}
	}
	if _, ok := fams["reachyd_media_pipeline_running"]; ok {
		t.Error("pipelines reported before any ran")
	}
}
