// Package metrics builds reachyd's Prometheus registry: what the daemon's
// /metrics endpoint exposes, in the Prometheus text format.
//
// Design: nothing on the hot path knows about Prometheus. The control loop
// counts into internal/loopstats (atomics) and the Dynamixel client into
// dynamixel.Counters (atomics); custom collectors read them, and the media
// actor's shared cell, at scrape time. Supervision decisions, job status
// changes and app process starts and exits arrive as events on the actor
// system's event stream and are counted by a subscriber that only does
// atomic counter increments (it runs on the publisher's goroutine). The
// gateway adds its own collector (HTTP requests, WebSocket clients).
//
// The registry is our own: never Prometheus's default registry, whose
// global state any imported library may write into, and never the default
// HTTP mux (see the protoactor notes in the design).
//
// Tested by unit tests that feed each collector known counts and read the
// registry back through the text parser (github.com/prometheus/common's
// expfmt), and end to end in cmd/reachyd against a running daemon.
package metrics

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"reachyd/actors/kit"
	"reachyd/actors/media"
	"reachyd/hw/dynamixel"
	"reachyd/internal/loopstats"
	"reachyd/messages"
)

// Motor names one motor of the bus for the bus metrics' labels.
type Motor struct {
	Name string
	ID   byte
}

// Options say where the metrics come from. Every source is optional.
type Options struct {
	// Loop is the control loop's counters.
	Loop *loopstats.Loop
	// Bus counts the bus exchanges per device; Motors are the devices
	// reported (the robot's motor table).
	Bus    *dynamixel.Counters
	Motors []Motor
	// Kit is the actor system whose event stream carries supervision
	// decisions, job changes and app process events.
	Kit *kit.System
	// Media is the media actor's cell (nil without media).
	Media *media.Cell
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Metrics is a registry with reachyd's collectors.
type Metrics struct {
	// Registry is where the gateway registers its collector.
	Registry *prometheus.Registry

	mu     sync.Mutex
	cancel []func()
}

// New builds the registry: the Go runtime and process collectors, and one
// collector per source in o.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{Registry: reg}
	reg.MustRegister(&loopCollector{loop: o.Loop, now: o.Now})
	if o.Bus != nil {
		reg.MustRegister(&busCollector{ctr: o.Bus, motors: o.Motors})
	}
	if o.Media != nil {
		reg.MustRegister(&mediaCollector{cell: o.Media})
	}
	if o.Kit != nil {
		ev := newEventCounters()
		reg.MustRegister(ev)
		m.cancel = append(m.cancel,
			kit.Subscribe(o.Kit, ev.supervision),
			kit.Subscribe(o.Kit, ev.job),
			kit.Subscribe(o.Kit, ev.app))
	}
	return m
}

// Handler serves the registry in the Prometheus text format (or in
// OpenMetrics, when the scraper asks for it). A collector's error is
// logged by the scrape's answer, not fatal: the other metrics are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// Close ends the event subscriptions.
func (m *Metrics) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.cancel {
		c()
	}
	m.cancel = nil
}

// ----- control loop -----

var (
	loopTicks = prometheus.NewDesc("reachyd_control_loop_ticks_total",
		"Control loop ticks run (each writes the goals and reads the positions); rate() of it is the loop's real rate.", nil, nil)
	loopMissed = prometheus.NewDesc("reachyd_control_loop_missed_slots_total",
		"Control loop slots skipped because a tick ran later than its slot: a non-zero rate means the loop cannot keep its configured rate (bus too slow, CPU starved).", nil, nil)
	loopConfigured = prometheus.NewDesc("reachyd_control_loop_configured_rate_hz",
		"Configured control loop rate (--control-hz), in Hz; 0 before the loop first started.", nil, nil)
	loopMeasured = prometheus.NewDesc("reachyd_control_loop_rate_hz",
		"Control loop rate measured over the last second, in Hz; 0 when no tick came for two seconds (robot stopped or bus down).", nil, nil)
	loopLate = prometheus.NewDesc("reachyd_control_loop_tick_lateness_seconds",
		"How late each tick started after its slot in the fixed-rate schedule (timer and mailbox delay), in seconds: the loop's jitter, which the motors feel as uneven steps.", nil, nil)
)

type loopCollector struct {
	loop *loopstats.Loop
	now  func() time.Time
}

func (c *loopCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{loopTicks, loopMissed, loopConfigured, loopMeasured, loopLate} {
		ch <- d
	}
}

func (c *loopCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.loop.Snapshot(c.now())
	ch <- prometheus.MustNewConstMetric(loopTicks, prometheus.CounterValue, float64(s.Ticks))
	ch <- prometheus.MustNewConstMetric(loopMissed, prometheus.CounterValue, float64(s.Missed))
	hz := 0.0
	if s.Period > 0 {
		hz = float64(time.Second) / float64(s.Period)
	}
	ch <- prometheus.MustNewConstMetric(loopConfigured, prometheus.GaugeValue, hz)
	ch <- prometheus.MustNewConstMetric(loopMeasured, prometheus.GaugeValue, s.MeasuredHz)
	buckets := make(map[float64]uint64, len(loopstats.Buckets))
	var cum uint64
	for i, b := range loopstats.Buckets {
		cum += s.Counts[i]
		buckets[b.Seconds()] = cum
	}
	cum += s.Counts[loopstats.NumBuckets-1]
	ch <- prometheus.MustNewConstHistogram(loopLate, cum, s.LateSum.Seconds(), buckets)
}

// ----- bus -----

var (
	busExchanges = prometheus.NewDesc("reachyd_bus_exchanges_total",
		"Request/reply exchanges with each motor on the Dynamixel bus since start, every attempt counted (retries included); sync writes, which have no reply, are not counted.",
		[]string{"motor", "id"}, nil)
	busErrors = prometheus.NewDesc("reachyd_bus_errors_total",
		"Failed or flagged exchanges with each motor, by kind: timeout (no reply), corrupt (bad checksum, truncated or malformed reply), status_error (the motor reported an error), hardware_alert (the motor has a hardware error latched: overload, overheating, voltage). A rising rate points at wiring, power or a failing motor.",
		[]string{"motor", "id", "kind"}, nil)
)

type busCollector struct {
	ctr    *dynamixel.Counters
	motors []Motor
}

func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- busExchanges
	ch <- busErrors
}

// Collect reports every motor of the table, and any other device the bus
// exchanged with (a hardware config with other IDs) as motor "other".
func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	named := map[byte]string{}
	for _, m := range c.motors {
		named[m.ID] = m.Name
	}
	for id := 0; id <= int(dynamixel.MaxID); id++ {
		name, ok := named[byte(id)]
		if !ok {
			if c.ctr.Get(byte(id), dynamixel.Exchanges) == 0 {
				continue
			}
			name = "other"
		}
		ids := itoa(id)
		ch <- prometheus.MustNewConstMetric(busExchanges, prometheus.CounterValue, float64(c.ctr.Get(byte(id), dynamixel.Exchanges)), name, ids)
		for o := dynamixel.Timeouts; o <= dynamixel.HardwareAlerts; o++ {
			ch <- prometheus.MustNewConstMetric(busErrors, prometheus.CounterValue, float64(c.ctr.Get(byte(id), o)), name, ids, dynamixel.OutcomeNames[o])
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [4]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// ----- media -----

var (
	mediaOn = prometheus.NewDesc("reachyd_media_available",
		"1 while media runs (the WebRTC producer is up and the devices are not released to an app), else 0.", nil, nil)
	mediaSessions = prometheus.NewDesc("reachyd_media_sessions",
		"WebRTC consumers connected to the robot's producer now, by whether the central relay handed them over.", []string{"relay"}, nil)
	mediaPipeRunning = prometheus.NewDesc("reachyd_media_pipeline_running",
		"1 while a media pipeline (a supervised GStreamer process) runs, else 0.", []string{"pipeline"}, nil)
	mediaPipeRestarts = prometheus.NewDesc("reachyd_media_pipeline_restarts_total",
		"Restarts of a media pipeline after it failed (reset when media is released and started again).", []string{"pipeline"}, nil)
)

type mediaCollector struct{ cell *media.Cell }

func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mediaOn, mediaSessions, mediaPipeRunning, mediaPipeRestarts} {
		ch <- d
	}
}

func (c *mediaCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.cell.Status()
	ch <- prometheus.MustNewConstMetric(mediaOn, prometheus.GaugeValue, b2f(st.Available))
	var direct, relayed int
	if st.Detail != nil {
		for _, s := range st.Detail.Sessions {
			if s.Relay {
				relayed++
			} else {
				direct++
			}
		}
		for _, p := range st.Detail.Pipelines {
			ch <- prometheus.MustNewConstMetric(mediaPipeRunning, prometheus.GaugeValue, b2f(p.Running), p.Name)
			ch <- prometheus.MustNewConstMetric(mediaPipeRestarts, prometheus.CounterValue, float64(p.Restarts), p.Name)
		}
	}
	ch <- prometheus.MustNewConstMetric(mediaSessions, prometheus.GaugeValue, float64(direct), "false")
	ch <- prometheus.MustNewConstMetric(mediaSessions, prometheus.GaugeValue, float64(relayed), "true")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ----- events: supervision, jobs, apps -----

// eventCounters counts what arrives on the event stream. Its handlers run
// on the publisher's goroutine (an actor's), so they only update counters.
type eventCounters struct {
	restarts  *prometheus.CounterVec
	decisions *prometheus.CounterVec
	jobs      *prometheus.CounterVec
	appRuns   prometheus.Counter
	appExits  *prometheus.CounterVec

	mu   sync.Mutex
	last map[string]messages.JobStatus // unfinished jobs' last status
}

func newEventCounters() *eventCounters {
	e := &eventCounters{
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reachyd_actor_restarts_total",
			Help: "Restarts of an actor by its supervisor after it failed (directive restart or respawn): a rising count is a bug or a failing resource that reachyd is riding out."},
			[]string{"actor"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reachyd_supervision_decisions_total",
			Help: "Supervision decisions on actor failures, by actor and directive (restart, respawn, stop, escalate, unrecoverable): stop and unrecoverable mean a part of the daemon gave up."},
			[]string{"actor", "directive"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reachyd_jobs_total",
			Help: "Background jobs (installs, updates, app runs, dataset downloads) reaching a status, by kind (the command's first word) and status (pending, in_progress, done, failed)."},
			[]string{"kind", "status"}),
		appRuns: prometheus.NewCounter(prometheus.CounterOpts{Name: "reachyd_app_runs_total",
			Help: "App processes started."}),
		appExits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reachyd_app_exits_total",
			Help: "App processes that ended, by exit kind: success (exit code 0), failure (non-zero code), signal (killed, stops by the daemon included), start_failed (could not be started). Failures show apps that crash."},
			[]string{"exit"}),
		last: map[string]messages.JobStatus{},
	}
	for _, k := range []string{"success", "failure", "signal", "start_failed"} {
		e.appExits.WithLabelValues(k)
	}
	return e
}

func (e *eventCounters) Describe(ch chan<- *prometheus.Desc) {
	e.restarts.Describe(ch)
	e.decisions.Describe(ch)
	e.jobs.Describe(ch)
	e.appRuns.Describe(ch)
	e.appExits.Describe(ch)
}

func (e *eventCounters) Collect(ch chan<- prometheus.Metric) {
	e.restarts.Collect(ch)
	e.decisions.Collect(ch)
	e.jobs.Collect(ch)
	e.appRuns.Collect(ch)
	e.appExits.Collect(ch)
}

func (e *eventCounters) supervision(ev messages.SupervisionEvent) {
	a := ActorLabel(ev.Child)
	e.decisions.WithLabelValues(a, string(ev.Directive)).Inc()
	if ev.Directive == messages.DirectiveRestart || ev.Directive == messages.DirectiveRespawn {
		e.restarts.WithLabelValues(a).Inc()
	}
}

func (e *eventCounters) job(b messages.JobBatch) {
	e.mu.Lock()
	prev, seen := e.last[b.ID]
	if b.Status.Finished() {
		delete(e.last, b.ID)
	} else {
		e.last[b.ID] = b.Status
	}
	e.mu.Unlock()
	if seen && prev == b.Status { // more log lines, same status
		return
	}
	e.jobs.WithLabelValues(JobKind(b.Command), string(b.Status)).Inc()
}

func (e *eventCounters) app(ev messages.AppProcessEvent) {
	switch {
	case ev.StartErr != "":
		e.appExits.WithLabelValues("start_failed").Inc()
	case ev.Exit == nil:
		e.appRuns.Inc()
	default:
		e.appExits.WithLabelValues(ExitKind(*ev.Exit)).Inc()
	}
}

// ExitKind classifies how an app's process ended.
func ExitKind(x messages.AppExitInfo) string {
	switch {
	case x.Signal != "":
		return "signal"
	case x.Code == 0:
		return "success"
	}
	return "failure"
}

// JobKind is a job's kind for a label: its command's first word ("app",
// "install", "update"...), so that app and dataset names, which are
// unbounded, stay out of the label.
func JobKind(command string) string {
	k, _, _ := strings.Cut(strings.TrimSpace(command), " ")
	if k == "" || len(k) > 32 {
		return "other"
	}
	return k
}

var generated = regexp.MustCompile(`^(\$|run-)[0-9]+$`)

// ActorLabel turns an actor's id ("reachyd/daemon/robot/motorbus") into a
// label of bounded cardinality: without the root's name, and with the
// numbered parts that each new child gets (app monitors "run-12",
// protoactor's "$34") collapsed to "*".
func ActorLabel(id string) string {
	id = strings.TrimPrefix(id, "reachyd/")
	parts := strings.Split(id, "/")
	for i, p := range parts {
		if m := generated.FindStringSubmatch(p); m != nil {
			parts[i] = m[1] + "*"
		}
	}
	return strings.Join(parts, "/")
}
