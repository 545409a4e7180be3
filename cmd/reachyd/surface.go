package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/actors/system"
	"reachyd/http/gateway"
	"reachyd/http/logstream"
	"reachyd/hw/description"
	"reachyd/media/webrtc"
)

// surfaceConfig configures the gateway's log streams, cache routes and
// robot description from the options.
func surfaceConfig(o *Options, logs *kit.LogRing, log *slog.Logger) gateway.SurfaceConfig {
	src := logSource(o.JournalUnit, logs, log)
	log.Info("daemon log streams", "source", src.Describe())
	return gateway.SurfaceConfig{
		Wireless: o.WirelessVersion,
		Logs:     src,
		Description: &description.Finder{Dir: o.DescriptionDir, Python: o.Python, AppsDir: filepath.Join(o.DataDir, "apps"),
			HubCache: motion.DefaultHubCache(), Log: log.With("component", "description")},
	}
}

// logSource picks where the log streams read: the journal of reachyd's
// own unit when systemd runs it (its standard error is the journal stream),
// reachyd's own lines otherwise; --journal-unit none or a unit name decide
// instead.
func logSource(unit string, logs *kit.LogRing, log *slog.Logger) logstream.Source {
	log = log.With("component", "logstream")
	switch unit {
	case "none":
		return &logstream.Ring{Logs: logs}
	case "", "auto":
		if logstream.StderrIsJournal(os.Getenv) {
			cg, _ := os.ReadFile("/proc/self/cgroup")
			if u, user := logstream.UnitFromCgroup(string(cg)); u != "" {
				return &logstream.Journal{Unit: u, User: user, Log: log}
			}
		}
		return &logstream.Ring{Logs: logs}
	}
	return &logstream.Journal{Unit: unit, Log: log}
}

// peerEnds tells the gateway that a WebRTC session ended (its log stream
// stops); the gateway is built after the media actor's options, so it is
// set late.
type peerEnds struct {
	atomic.Pointer[gateway.Gateway]
}

func hookPeerEnds(mc *system.MediaConfig) *peerEnds {
	p := new(peerEnds)
	if mc == nil {
		return p
	}
	prev := mc.Options.WebRTC.OnSessionEnd
	mc.Options.WebRTC.OnSessionEnd = func(s *webrtc.Session, reason string) {
		if prev != nil {
			prev(s, reason)
		}
		if g := p.Load(); g != nil {
			g.PeerGone(s.ID())
		}
	}
	return p
}
