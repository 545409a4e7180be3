package gateway

// The rest of the reference's surface (issue 11, items 5 to 7): the cache
// routes and the daemon log stream of the Wireless robot's routers, the
// data channel's subscribe_logs, the robot description (URDF and meshes),
// and the live API documentation (/openapi.json, /docs: apidoc.go,
// docs_page.go).
//
// The reference registers /cache/* and /logs/* only with
// --wireless-version. reachyd serves /cache/reset-apps and /logs/ws/daemon
// in every mode: the desktop app's "Reset apps" button calls
// /cache/reset-apps whatever the robot (and gets a 404 from a Lite's
// reference daemon), and both touch only reachyd's own apps and log.
// /cache/clear-hf stays wireless-only: on a Lite's computer the Hugging Face
// cache is the user's, shared with their other tools.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/http/logstream"
	"reachyd/hw/description"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// SurfaceConfig configures the routes of this file.
type SurfaceConfig struct {
	// Logs is the source of WS /logs/ws/daemon and of the data channel's
	// subscribe_logs (nil: neither streams).
	Logs logstream.Source
	// Wireless serves the routes the reference keeps to its Wireless robot
	// (/cache/clear-hf).
	Wireless bool
	// Description finds the robot description (nil: none is installed).
	Description *description.Finder
}

// surfaceState is the gateway's state for these routes.
type surfaceState struct {
	mu sync.Mutex
	// logSubs are the data-channel peers' log streams, by peer id.
	logSubs map[string]*logSub
	// apiDoc is /openapi.json, built once all routes are registered.
	apiDoc apiDocCache
}

type logSub struct{ cancel context.CancelFunc }

// logKeepAlive is how long the log stream may be silent before an empty
// frame is sent (the reference's 1 s; a variable for tests).
var logKeepAlive = time.Second

// logQueue is the per-client queue of the log stream: a client that
// falls further behind loses its oldest lines, and is told.
const logQueue = 256

func (g *Gateway) surfaceRoutes() {
	e := g.e
	if g.sys.Apps != nil {
		e.POST("/cache/reset-apps", g.resetApps)
	}
	if g.cfg.Surface.Wireless {
		e.POST("/cache/clear-hf", g.clearHF)
	}
	if g.cfg.Surface.Logs != nil {
		e.GET("/logs/ws/daemon", g.wsDaemonLogs)
	}
	e.GET("/api/kinematics/urdf", g.kinematicsURDF)
	e.GET("/api/kinematics/stl/:filename", g.kinematicsSTL)
	g.docRoutes()
}

// ---- cache -------------------------------------------------------------------------

func success(c echo.Context, message string) error {
	o := wire.ObjStart(nil)
	o.String("status", "success")
	o.String("message", message)
	return jsonBytes(c, o.End())
}

func (g *Gateway) resetApps(c echo.Context) error {
	r, err := ask[messages.AppsReset](g, c, g.sys.Apps, &messages.ResetApps{})
	if err != nil {
		return g.fail(c, err, false)
	}
	if r.Removed == 0 {
		return success(c, "Virtual environment directory already empty")
	}
	return success(c, "Applications virtual environment removed")
}

func (g *Gateway) clearHF(c echo.Context) error {
	r, err := ask[messages.CacheCleared](g, c, g.sys.Daemon, &messages.ClearHFCache{})
	if err != nil {
		return g.fail(c, err, false)
	}
	if r.Removed == 0 {
		return success(c, "Cache directory already empty")
	}
	return success(c, "HuggingFace cache cleared")
}

// ---- logs --------------------------------------------------------------------------

// journalMissing is the reference's line when journalctl is missing.
const journalMissing = "ERROR: journalctl command not found. This feature requires systemd."

// wsDaemonLogs streams the daemon's log, one text frame per line, with an
// empty frame after each second of silence, as the reference's
// /logs/ws/daemon does. It ends when the client leaves (the journalctl
// child with it) or the stream does.
func (g *Gateway) wsDaemonLogs(c echo.Context) error {
	w, err := g.upgrade(c, logQueue, messages.DropOldest)
	if err != nil {
		return nil
	}
	defer w.shutdown()
	go w.writeLoop()
	left := make(chan struct{})
	go func() {
		w.discardReads()
		close(left)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := g.cfg.Surface.Logs.Follow(ctx, logstream.Backlog)
	if err != nil {
		text := "ERROR: Failed to stream logs: " + err.Error()
		if errors.Is(err, logstream.ErrNoJournalctl) {
			text = journalMissing
		}
		g.log.Warn("daemon log stream refused", "err", err)
		w.out.Offer([]byte(text))
		w.out.Close("log stream unavailable")
		<-w.done
		return nil
	}
	timer := time.NewTimer(logKeepAlive)
	defer timer.Stop()
	var dropped uint64
	for {
		select {
		case line, ok := <-stream.Lines:
			if !ok {
				w.out.Close("log stream ended")
				<-w.done
				return nil
			}
			w.out.Offer([]byte(line))
			if d, _ := w.out.Stats(); d > dropped {
				note := fmt.Sprintf("%s WARN gateway: %d log lines dropped: this client reads too slowly",
					time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), d-dropped)
				w.out.Offer([]byte(note))
				dropped, _ = w.out.Stats()
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(logKeepAlive)
		case <-timer.C:
			w.out.Offer([]byte{})
			timer.Reset(logKeepAlive)
		case <-left:
			return nil
		case <-w.done:
			return nil
		}
	}
}

// logFrame is {"type": "log_line", "timestamp", "line"}.
func logFrame(line string) []byte {
	ts, rest := logstream.SplitTimestamp(line)
	o := wire.ObjStart(nil)
	o.String("type", "log_line")
	o.String("timestamp", ts)
	o.String("line", rest)
	return o.End()
}

func logStreamError(text string) []byte {
	o := wire.ObjStart(nil)
	o.String("type", "log_stream_error")
	o.String("error", text)
	return o.End()
}

// subscribeLogs streams the daemon's log to a data-channel peer as
// log_line frames until it unsubscribes or leaves (PeerGone), then a
// log_stream_error if the stream itself ended. Subscribing again restarts
// the stream.
func (g *Gateway) subscribeLogs(p Peer) {
	src := g.cfg.Surface.Logs
	if src == nil {
		p.Send(logStreamError("log streaming is not available in this daemon"))
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub := &logSub{cancel: cancel}
	id := p.ID()
	g.surface.mu.Lock()
	if g.surface.logSubs == nil {
		g.surface.logSubs = map[string]*logSub{}
	}
	if old := g.surface.logSubs[id]; old != nil {
		old.cancel()
	}
	g.surface.logSubs[id] = sub
	g.surface.mu.Unlock()
	go func() {
		defer func() {
			cancel()
			g.surface.mu.Lock()
			if g.surface.logSubs[id] == sub {
				delete(g.surface.logSubs, id)
			}
			g.surface.mu.Unlock()
		}()
		stream, err := src.Follow(ctx, logstream.Backlog)
		if err != nil {
			p.Send(logStreamError(err.Error()))
			return
		}
		for line := range stream.Lines {
			p.Send(logFrame(line))
		}
		if err := stream.Err(); err != nil {
			p.Send(logStreamError(err.Error()))
		}
	}()
}

// unsubscribeLogs ends a peer's log stream, if any (no reply, as the
// reference).
func (g *Gateway) unsubscribeLogs(id string) {
	g.surface.mu.Lock()
	sub := g.surface.logSubs[id]
	delete(g.surface.logSubs, id)
	g.surface.mu.Unlock()
	if sub != nil {
		sub.cancel()
	}
}

// PeerGone ends what the gateway runs for a data-channel peer that left
// (its log stream). The WebRTC producer's session end calls it.
func (g *Gateway) PeerGone(id string) { g.unsubscribeLogs(id) }

// logSubscribers is the number of peers with a log stream (tests).
func (g *Gateway) logSubscribers() int {
	g.surface.mu.Lock()
	defer g.surface.mu.Unlock()
	return len(g.surface.logSubs)
}

// ---- robot description -------------------------------------------------------------

const noDescription = "No robot description installed: start reachyd with --description-dir <folder of robot.urdf>, " +
	"or install the reachy_mini Python package"

func (g *Gateway) kinematicsURDF(c echo.Context) error {
	f := g.cfg.Surface.Description
	if f == nil {
		return detail(c, http.StatusNotFound, noDescription)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	b, err := f.URDF(ctx)
	switch {
	case errors.Is(err, description.ErrNotInstalled):
		return detail(c, http.StatusNotFound, noDescription)
	case err != nil:
		g.log.Error("cannot read the robot description", "err", err)
		return detail(c, http.StatusInternalServerError, "Cannot read the robot description: "+messages.PublicText(err.Error()))
	}
	o := wire.ObjStart(make([]byte, 0, len(b)+64))
	o.String("urdf", string(b))
	return jsonBytes(c, o.End())
}

// kinematicsSTL serves a mesh of the description's assets folder as
// model/stl (ranges and HEAD included).
func (g *Gateway) kinematicsSTL(c echo.Context) error {
	name := c.Param("filename")
	f := g.cfg.Surface.Description
	if f == nil {
		return detail(c, http.StatusNotFound, "STL file not found "+name+" ("+noDescription+")")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	file, info, path, err := f.Asset(ctx, name)
	switch {
	case errors.Is(err, description.ErrNotInstalled):
		return detail(c, http.StatusNotFound, "STL file not found "+name+" ("+noDescription+")")
	case errors.Is(err, description.ErrBadName), errors.Is(err, fs.ErrNotExist):
		return detail(c, http.StatusNotFound, "STL file not found "+messages.PublicText(path))
	case err != nil:
		g.log.Error("cannot open a robot mesh", "name", name, "err", err)
		return detail(c, http.StatusInternalServerError, "Cannot read the mesh: "+messages.PublicText(err.Error()))
	}
	defer file.Close()
	c.Response().Header().Set(echo.HeaderContentType, "model/stl")
	http.ServeContent(c.Response(), c.Request(), info.Name(), info.ModTime(), file)
	return nil
}
