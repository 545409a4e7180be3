package gateway

// The WebRTC "data" channel's command set (spec 2.4): the /ws/sdk commands
// with a reply to the peer that sent each, as the reference's
// Backend.process_command answers through send_response, plus JSON-RPC 2.0
// frames (spec 2.6). The media actor's producer sessions implement Peer and
// hand each data-channel message to PeerCommand; the same validation and
// handlers serve /ws/sdk, where no reply is ever sent (sdk.go).
//
// Tested against a running actor tree on the simulated robot with a
// recording Peer (datachannel_test.go): every reply shape implemented,
// goto/wake_up completion, invalid frames, JSON-RPC errors; /ws/sdk's own
// behaviour is tested by cmd/reachyd's end-to-end tests.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/apps/rpcrelay"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// Peer is the far end of a data channel: a consumer of the WebRTC
// producer. Send must not block for long (the producer queues); it is
// called from PeerCommand's goroutine and, for replies that come later
// (a move's end), from others.
type Peer interface {
	ID() string
	Send(msg []byte)
}

// PoseSubscriber is a Peer that can push the robot's state on its "pose"
// channel: subscribe_pose and unsubscribe_pose switch it.
type PoseSubscriber interface {
	SubscribePose(on bool)
}

// PeerCommand runs one data-channel message from p and sends p its reply
// (or replies). The command itself runs before PeerCommand returns (asks are
// bounded by Config.AskTimeout), so one peer's commands apply in the order
// they came, as on /ws/sdk; what ends later (a goto, wake_up, goto_sleep, a
// recorded move's loading) is answered from another goroutine.
func (g *Gateway) PeerCommand(p Peer, data []byte) {
	defer func() {
		if r := recover(); r != nil {
			g.log.Error("data channel command panicked", "peer", p.ID(), "panic", r)
			p.Send(errorFrame("internal error", ""))
		}
	}()
	if len(data) > readLimit {
		p.Send(errorFrame(fmt.Sprintf("Invalid command: message of %d bytes, above the %d-byte limit", len(data), readLimit), ""))
		return
	}
	v, errs := validate.DecodeBody(data)
	if errs == nil {
		if o, ok := v.(*validate.Object); ok {
			if jv, _ := o.Get("jsonrpc"); jv == "2.0" {
				g.rpc(p, data)
				return
			}
		}
	}
	err := g.commandValue(v, errs, p, false)
	var inv *invalidFrame
	var de *dispatchError
	switch {
	case err == nil:
	case errors.As(err, &inv):
		g.badInput.Log(g.log, slog.LevelInfo, "data channel: invalid command", "peer", p.ID(), "err", inv.why)
		p.Send(errorFrame("Invalid command: "+inv.why, ""))
	case errors.As(err, &de):
		g.badInput.Log(g.log, slog.LevelInfo, "data channel: command failed", "peer", p.ID(), "err", de.msg)
		p.Send(errorFrame(de.msg, ""))
	default:
		p.Send(errorFrame(messages.PublicText(err.Error()), ""))
	}
}

// ---- reply frames ---------------------------------------------------------------
//
// Replies are json.dumps of the reference's dicts: Python float style, keys
// in the reference's order.

// errorFrame is {"error": text} or, with a command, {"error", "command"}.
func errorFrame(text, command string) []byte {
	o := wire.ObjStart(nil)
	o.String("error", text)
	if command != "" {
		o.String("command", command)
	}
	return o.End()
}

// obj builds a reply object.
func obj(fill func(o *wire.Obj)) []byte {
	o := wire.ObjStart(nil)
	fill(&o)
	return o.End()
}

func optString(o *wire.Obj, k, v string) {
	if v == "" {
		o.Null(k)
	} else {
		o.String(k, v)
	}
}

// send sends a reply to the peer; nothing on /ws/sdk.
func (c *cmd) send(b []byte) {
	if c.peer != nil {
		c.peer.Send(b)
	}
}

// reply builds and sends a reply object (built only for a peer).
func (c *cmd) reply(fill func(o *wire.Obj)) {
	if c.peer != nil {
		c.peer.Send(obj(fill))
	}
}

// ok is the setters' {"status": "ok", "command": <type>}.
func (c *cmd) ok() {
	c.reply(func(o *wire.Obj) {
		o.String("status", "ok")
		o.String("command", c.typ)
	})
}

// fail is the reference's reply to a command that raised: {"error": text}.
func (c *cmd) fail(text string) {
	if c.peer != nil {
		c.peer.Send(errorFrame(text, ""))
	}
}

// failCmd is {"error": text, "command": <type>}.
func (c *cmd) failCmd(text string) {
	if c.peer != nil {
		c.peer.Send(errorFrame(text, c.typ))
	}
}

// errText is what a peer is told of an ask that failed. backend: the actor
// belongs to the robot backend, whose absence is "Backend not running".
func (g *Gateway) errText(err error, backend bool) string {
	var me *messages.Error
	switch {
	case errors.As(err, &me):
		return messages.PublicText(me.Detail)
	case backend && (errors.Is(err, kit.ErrNoActor) || errors.Is(err, kit.ErrTimeout)):
		return messages.ErrBackendNotRunning.Detail
	case errors.Is(err, kit.ErrNoActor) || errors.Is(err, kit.ErrTimeout):
		return "The daemon is busy; try again."
	}
	g.log.Error("data channel command failed", "err", err)
	return "internal error"
}

// peerAsk asks an actor on behalf of a peer, within AskTimeout.
func peerAsk[T any](g *Gateway, pid *actor.PID, msg any) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
	defer cancel()
	return kit.Ask[T](ctx, g.sys.Kit, pid, msg)
}

// ---- move completion ------------------------------------------------------------

// doneBox is a one-shot process that receives the messages.MoveDone moves
// sends to StartMove.Notify when a move ends (how the daemon learns that
// its wake-up and sleep ended).
type doneBox struct{ ch chan messages.MoveDone }

func (d *doneBox) SendUserMessage(_ *actor.PID, m any) {
	_, msg, _ := actor.UnwrapEnvelope(m)
	if md, ok := msg.(*messages.MoveDone); ok {
		select {
		case d.ch <- *md:
		default:
		}
	}
}
func (d *doneBox) SendSystemMessage(*actor.PID, any) {}
func (d *doneBox) Stop(*actor.PID)                   {}

// moveWaitMargin is how long after its nominal end a move may take to
// report it before the peer is told it did not.
const moveWaitMargin = 30 * time.Second

// sequenceWait bounds wake_up and goto_sleep (a few seconds each).
const sequenceWait = 2 * time.Minute

// peerMove starts a move for a peer and answers when it ends, as the
// reference's _async_goto, _async_wake_up and _async_goto_sleep do:
// {"status":"ok","command":<t>,"completed":true}, or {"error","command"}.
// Like the reference's play_move, a move refused because another one runs,
// or stopped by stop_move, still ends "completed" (the reference returns
// without raising in both cases); a move moves refuses to start (out of
// range, unreachable, no backend) is an error.
func (g *Gateway) peerMove(c *cmd, m *messages.StartMove, wait time.Duration) func() {
	return func() {
		box := &doneBox{ch: make(chan messages.MoveDone, 1)}
		reg := g.sys.Kit.AS.ProcessRegistry
		pid, ok := reg.Add(box, "movedone$"+reg.NextId())
		if !ok {
			c.failCmd("internal error")
			return
		}
		m.Notify = pid
		if _, err := peerAsk[messages.MoveAccepted](g, g.sys.Moves, m); err != nil {
			reg.Remove(pid)
			c.failCmd(g.errText(err, true))
			return
		}
		go func() {
			defer reg.Remove(pid)
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case d := <-box.ch:
				if d.Result == messages.MoveFailed && d.Detail != "move_running" {
					c.failCmd(messages.PublicText(d.Detail))
					return
				}
				c.reply(func(o *wire.Obj) {
					o.String("status", "ok")
					o.String("command", c.typ)
					o.Bool("completed", true)
				})
			case <-t.C:
				c.failCmd("the move did not report its end in time")
			}
		}()
	}
}

// ---- JSON-RPC 2.0 (spec 2.6) --------------------------------------------------

// rpc hands a JSON-RPC 2.0 frame to the relay (apps/rpcrelay): apps.* is
// answered through the apps actor, other namespaces go to the running
// app's /rpc; replies come back to this peer only.
func (g *Gateway) rpc(p Peer, data []byte) {
	g.rpcRelay().Handle(data, p.Send)
}

// rpcRelay is the gateway's JSON-RPC relay, made on first use (the
// broadcast function is the gateway's Config.Broadcast).
func (g *Gateway) rpcRelay() *rpcrelay.Relay {
	g.rpcOnce.Do(func() {
		g.rpcR = rpcrelay.New(rpcrelay.Config{
			Apps:      rpcrelay.ActorApps{Kit: g.sys.Kit, Apps: g.sys.Apps, Jobs: g.sys.Jobs},
			Broadcast: g.cfg.Broadcast,
			Log:       g.log.With("component", "jsonrpc"),
		})
	})
	return g.rpcR
}

// CloseRPC drops the JSON-RPC relay's connection to the app (at shutdown).
func (g *Gateway) CloseRPC() { g.rpcRelay().Close() }

// ---- broadcasts -------------------------------------------------------------------

// broadcastTypes are the frames the reference sends to every client of
// every transport (Backend.broadcast_to_all_clients): on /ws/sdk they come
// from the hub, and ForwardBroadcasts hands them to Config.Broadcast too.
var broadcastTypes = []string{`{"type":"play_uploaded_move"`, `{"type":"play_uploaded_audio"`, `{"type":"update_progress"`}

func isBroadcast(frame []byte) bool {
	for _, p := range broadcastTypes {
		if strings.HasPrefix(string(frame), p) {
			return true
		}
	}
	return false
}

// broadcastRetry is how long ForwardBroadcasts waits before subscribing
// again when the hub refused (no backend) or closed its subscription
// (backend stopped).
var broadcastRetry = time.Second

// ForwardBroadcasts hands Config.Broadcast every broadcast frame of the
// /ws/sdk stream until ctx ends: it subscribes to the hub like an SDK
// client (while a backend runs; it subscribes again after a restart) and
// keeps only the broadcast types. Without Config.Broadcast it returns at
// once.
func (g *Gateway) ForwardBroadcasts(ctx context.Context) {
	if g.cfg.Broadcast == nil {
		return
	}
	for ctx.Err() == nil {
		out := messages.NewOutbox(256, messages.DropOldest)
		actx, cancel := context.WithTimeout(ctx, g.cfg.AskTimeout)
		_, err := g.sys.Kit.AskAny(actx, g.sys.Hub, &messages.Subscribe{Stream: messages.StreamSDK, Out: out})
		cancel()
		if err == nil {
			g.forward(ctx, out)
			g.sys.Kit.Tell(g.sys.Hub, &messages.Unsubscribe{Stream: messages.StreamSDK, Out: out})
		}
		t := time.NewTimer(broadcastRetry)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (g *Gateway) forward(ctx context.Context, out *messages.Outbox) {
	defer out.Close("closed")
	var batch [][]byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-out.Wake():
		case <-out.Done():
			for _, f := range out.Drain(batch[:0]) {
				if isBroadcast(f) {
					g.cfg.Broadcast(f)
				}
			}
			return
		}
		batch = out.Drain(batch[:0])
		for i, f := range batch {
			if isBroadcast(f) {
				g.cfg.Broadcast(f)
			}
			batch[i] = nil
		}
	}
}
