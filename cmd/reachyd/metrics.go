package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"reachyd/actors/system"
	"reachyd/http/gateway"
	"reachyd/hw"
	"reachyd/hw/dxlbus"
	"reachyd/hw/dynamixel"
	"reachyd/internal/metrics"
)

// metricsSetup wires the Prometheus endpoint: /metrics on the API by
// default, on a listener of its own with --metrics-addr host:port, nowhere
// with --metrics-addr off or --no-metrics. Its methods accept a nil
// receiver (metrics off).
type metricsSetup struct {
	bus *dynamixel.Counters
	ln  net.Listener // with --metrics-addr
	m   *metrics.Metrics
	log *slog.Logger
}

// prepareMetrics runs before the actor tree starts: it opens the metrics
// listener (so a port in use is a start-up error, as for the API) and makes
// the bus count its exchanges per motor. The counters are set on each bus
// the opener returns, once its start-up sequence is over: the start-up's
// own exchanges (pings, EEPROM checks) are not counted, the control loop's
// and everything after are.
func prepareMetrics(o *Options, cfg *system.Config, log *slog.Logger) (*metricsSetup, error) {
	if o.NoMetrics || o.MetricsAddr == "off" {
		return nil, nil
	}
	ms := &metricsSetup{bus: &dynamixel.Counters{}, log: log}
	if o.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.MetricsAddr); err != nil {
			return nil, fmt.Errorf("--metrics-addr must be host:port or off: %w", err)
		}
		ln, err := net.Listen("tcp", o.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		ms.ln = ln
	}
	if open := cfg.Open; open != nil {
		cfg.Open = func() (hw.Bus, error) {
			b, err := open()
			if db, ok := b.(*dxlbus.Bus); ok && err == nil {
				db.Client().SetCounters(ms.bus)
			}
			return b, err
		}
	}
	return ms, nil
}

// start builds the registry on the running actor tree and returns the
// gateway's part: its collector, and the handler when /metrics is on the
// API.
func (ms *metricsSetup) start(sys *system.System) *gateway.MetricsConfig {
	if ms == nil {
		return nil
	}
	motors := make([]metrics.Motor, hw.NumMotors)
	for i := range motors {
		motors[i] = metrics.Motor{Name: hw.MotorNames[i], ID: hw.MotorIDs[i]}
	}
	ms.m = metrics.New(metrics.Options{Loop: sys.Loop, Bus: ms.bus, Motors: motors, Kit: sys.Kit, Media: sys.MediaCell})
	gc := &gateway.MetricsConfig{Registry: ms.m.Registry}
	if ms.ln == nil {
		gc.Handler = ms.m.Handler()
		return gc
	}
	ms.log.Info("metrics", "addr", "http://"+ms.ln.Addr().String()+"/metrics")
	return gc
}

// serve serves GET /metrics on the metrics listener (when there is one)
// until ctx ends. Its own mux and server: never http.DefaultServeMux.
func (ms *metricsSetup) serve(ctx context.Context) {
	if ms == nil || ms.ln == nil || ms.m == nil {
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", ms.m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(ms.log.Handler(), slog.LevelDebug)}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ms.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		ms.log.Warn("metrics listener stopped", "err", err)
	}
}

// close ends the event subscriptions and closes the listener.
func (ms *metricsSetup) close() {
	if ms == nil {
		return
	}
	if ms.m != nil {
		ms.m.Close()
	}
	if ms.ln != nil {
		_ = ms.ln.Close()
	}
}
