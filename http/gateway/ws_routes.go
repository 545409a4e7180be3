package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/hw/dynamixel"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// subscribe adds the connection's outbox to a hub stream.
func (g *Gateway) subscribe(w *wsConn, s messages.Stream) error {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
	defer cancel()
	_, err := g.sys.Kit.AskAny(ctx, g.sys.Hub, &messages.Subscribe{Stream: s, Out: w.out})
	return err
}

func (g *Gateway) unsubscribe(w *wsConn, s messages.Stream) {
	g.sys.Kit.Tell(g.sys.Hub, &messages.Unsubscribe{Stream: s, Out: w.out})
}

// wsSDK is the SDK's /ws/sdk: state frames every tick, daemon_status at
// 1 Hz, task_progress and recorded_data; client commands are
// fire-and-forget (no replies on this transport).
func (g *Gateway) wsSDK(c echo.Context) error {
	w, err := g.upgrade(c, sdkQueue, messages.DropOldest)
	if err != nil {
		return nil // the upgrader answered
	}
	if err := g.subscribe(w, messages.StreamSDK); err != nil {
		// The reference's route refuses with 1013 before the daemon ran.
		w.refuse(websocket.CloseTryAgainLater, "Daemon not ready")
		return nil
	}
	go w.writeLoop()
	g.sdkReadLoop(w, isPeerTrusted(c))
	g.unsubscribe(w, messages.StreamSDK)
	w.shutdown()
	return nil
}

// wsMoveUpdates streams move events; client frames are ignored.
func (g *Gateway) wsMoveUpdates(c echo.Context) error {
	w, err := g.upgrade(c, 256, messages.DropOldest)
	if err != nil {
		return nil
	}
	if err := g.subscribe(w, messages.StreamMoves); err != nil {
		w.refuse(websocket.CloseInternalServerErr, "move updates unavailable")
		return nil
	}
	go w.writeLoop()
	w.discardReads()
	g.unsubscribe(w, messages.StreamMoves)
	w.shutdown()
	return nil
}

// wsSetTarget applies FullBodyTarget frames; it answers only errors.
func (g *Gateway) wsSetTarget(c echo.Context) error {
	if _, err := g.state(c); err != nil {
		return wsUnavailable(c)
	}
	w, err := g.upgrade(c, 16, messages.CloseWhenFull)
	if err != nil {
		return nil
	}
	defer w.shutdown()
	for {
		typ, data, err := w.c.ReadMessage()
		if err != nil {
			return nil
		}
		if typ != websocket.TextMessage {
			continue
		}
		t, errs := validate.DecodeFullBodyTarget(data)
		if errs != nil {
			o := wire.ObjStart(nil)
			o.String("status", "error")
			o.Key("detail")
			o.B = wire.AppendString(o.B, string(errs.Body()))
			if !w.writeNow(o.End()) {
				return nil
			}
			continue
		}
		g.sys.Kit.Tell(g.sys.Moves, &messages.SetTargets{Head: t.HeadPose, Antennas: t.Antennas, BodyYaw: t.BodyYaw})
	}
}

// wsFullState streams FullState at the requested frequency while the
// backend runs.
func (g *Gateway) wsFullState(c echo.Context) error {
	def := 10.0
	freq, errs := validate.QueryFloat(c.QueryParams(), "frequency", &def)
	f, ferrs := fullStateFlags(c, false)
	errs = append(errs, ferrs...)
	if len(errs) > 0 {
		return invalid(c, errs)
	}
	if !(freq > 0) {
		return detail(c, 422, "frequency must be positive")
	}
	if _, err := g.state(c); err != nil {
		return wsUnavailable(c)
	}
	w, err := g.upgrade(c, 8, messages.DropOldest)
	if err != nil {
		return nil
	}
	go w.writeLoop()
	go w.discardReads()
	period := time.Duration(float64(time.Second) / freq)
	if period < time.Millisecond {
		period = time.Millisecond
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return nil
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
		s, err := kit.Ask[*messages.RobotState](ctx, g.sys.Kit, g.sys.Hub, &messages.GetState{})
		cancel()
		if err != nil {
			// The backend stopped: end the stream as the reference's loop
			// ends when the backend is no longer ready.
			w.out.Close("daemon stopped")
			<-w.done
			return nil
		}
		// The DoA comes from the media actor's poll (its cell), asked only
		// when no fresh reading is there. The topic bus's robot_state does
		// not carry it (pymirokai's state has no DoA).
		var doa *messages.DoA
		if f.DoA {
			doa = g.readDoA(context.Background())
		}
		w.out.Offer(wire.FullStateDoA(nil, s, f, doa, time.Now(), wire.Pydantic))
	}
}

// wsJob streams a job's logs: each new line, then a JobInfo batch; the
// history first for a late client; closed after the final batch.
func (g *Gateway) wsJob(c echo.Context) error { return g.streamJob(c, c.Param("job_id")) }

// streamJob streams a job's log (also WS /update/ws/logs?job_id=).
func (g *Gateway) streamJob(c echo.Context, id string) error {
	w, err := g.upgrade(c, 16384, messages.CloseWhenFull)
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
	_, err = kit.Ask[messages.JobInfo](ctx, g.sys.Kit, g.sys.Jobs, &messages.WatchJob{ID: id, Out: w.out})
	cancel()
	if err != nil {
		w.writeNow([]byte(`{"error":"Job ID not found"}`))
		w.refuse(websocket.CloseNormalClosure, "")
		return nil
	}
	go w.discardReads()
	w.writeLoop()
	return nil
}

// wsRawWrite passes binary packets to the motor bus and answers each with
// whatever came back (empty when nothing did), as the reference does on the
// real robot. It is off unless the daemon runs with --allow-raw-bus, and
// even then a packet that could brick a motor (dynamixel.CheckRaw) ends the
// connection with 1008 and the reason, unsent.
func (g *Gateway) wsRawWrite(c echo.Context) error {
	if !g.cfg.AllowRawBus {
		return detail(c, http.StatusForbidden, "Raw motor bus access is off; start reachyd with --allow-raw-bus to use it")
	}
	if _, err := g.state(c); err != nil {
		return wsUnavailable(c)
	}
	w, err := g.upgrade(c, 16, messages.CloseWhenFull)
	if err != nil {
		return nil
	}
	defer w.shutdown()
	for {
		typ, data, err := w.c.ReadMessage()
		if err != nil {
			return nil
		}
		if typ != websocket.BinaryMessage {
			continue
		}
		if err := dynamixel.CheckRaw(data); err != nil {
			g.badInput.Log(g.log, slog.LevelWarn, "raw bus packet refused", "err", err, "remote", c.Request().RemoteAddr)
			w.closeFrame(websocket.ClosePolicyViolation, truncate(err.Error(), 120))
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
		r, err := kit.Ask[messages.RawReply](ctx, g.sys.Kit, g.sys.Motorbus, &messages.RawWrite{Packet: data})
		cancel()
		if err != nil {
			// The reference's backend raises and the socket closes.
			w.closeFrame(websocket.CloseInternalServerErr, truncate(messages.PublicText(err.Error()), 120))
			return nil
		}
		w.wmu.Lock()
		_ = w.c.SetWriteDeadline(time.Now().Add(writeWait))
		err = w.c.WriteMessage(websocket.BinaryMessage, r.Data)
		w.wmu.Unlock()
		if err != nil {
			return nil
		}
	}
}
