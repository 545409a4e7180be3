package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// Pose is the API's XYZRPYPose: meters and radians, extrinsic X, Y then Z
// rotations (R = Rz(yaw)·Ry(pitch)·Rx(roll)), the head in the robot's
// frame.
type Pose struct {
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Z     float64 `json:"z"`
	Roll  float64 `json:"roll"`
	Pitch float64 `json:"pitch"`
	Yaw   float64 `json:"yaw"`
}

// Interpolation curves of a goto, as the API spells them.
const (
	Linear    = "linear"
	MinJerk   = "minjerk"
	EaseInOut = "ease_in_out"
	Cartoon   = "cartoon"
)

// Interpolations lists the curves the API accepts.
var Interpolations = []string{Linear, MinJerk, EaseInOut, Cartoon}

// Goto is POST /api/move/goto's GotoModelRequest. Nil fields keep the
// present value; Duration is in seconds; Antennas are radians in the
// backend's order, [right, left]; BodyYaw is radians.
type Goto struct {
	HeadPose      *Pose       `json:"head_pose,omitempty"`
	Antennas      *[2]float64 `json:"antennas,omitempty"`
	BodyYaw       *float64    `json:"body_yaw,omitempty"`
	Duration      float64     `json:"duration"`
	Interpolation string      `json:"interpolation,omitempty"` // "" means the daemon's default (minjerk)
}

// Move is a started move's id ({"uuid": ...}).
type Move struct {
	UUID string `json:"uuid"`
}

// Goto starts a goto; it returns as soon as the move is accepted.
func (c *Client) Goto(ctx context.Context, g Goto) (Move, error) {
	var m Move
	err := c.postJSON(ctx, "/api/move/goto", g, &m)
	return m, err
}

// WakeUp plays the wake-up sequence.
func (c *Client) WakeUp(ctx context.Context) (Move, error) {
	var m Move
	err := c.postJSON(ctx, "/api/move/play/wake_up", nil, &m)
	return m, err
}

// GotoSleep plays the go-to-sleep sequence.
func (c *Client) GotoSleep(ctx context.Context) (Move, error) {
	var m Move
	err := c.postJSON(ctx, "/api/move/play/goto_sleep", nil, &m)
	return m, err
}

// StopMove cancels a running move.
func (c *Client) StopMove(ctx context.Context, uuid string) error {
	return c.postJSON(ctx, "/api/move/stop", map[string]string{"uuid": uuid}, nil)
}

// RunningMoves lists the moves that run.
func (c *Client) RunningMoves(ctx context.Context) ([]Move, error) {
	var m []Move
	err := c.get(ctx, "/api/move/running", &m)
	return m, err
}

// Well-known recorded-move datasets (Hugging Face dataset ids).
var KnownDatasets = []string{
	"pollen-robotics/reachy-mini-emotions-library",
	"pollen-robotics/reachy-mini-dances-library",
}

// RecordedMoves lists the moves of a dataset ("owner/name" on the Hub); the
// daemon downloads it first if it is not on disk, so the call is bounded
// by ctx only (and the daemon's own download deadline).
func (c *Client) RecordedMoves(ctx context.Context, dataset string) ([]string, error) {
	var names []string
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/move/recorded-move-datasets/list/" + pathOf(dataset), long: true}, &names)
	return names, err
}

// PlayRecordedMove plays one move of a dataset (downloading it first if
// need be: bounded by ctx only).
func (c *Client) PlayRecordedMove(ctx context.Context, dataset, move string) (Move, error) {
	var m Move
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/move/play/recorded-move-dataset/" + pathOf(dataset) + "/" + seg(move), long: true}, &m)
	return m, err
}

// ---- state --------------------------------------------------------------------------

// FullState is GET /api/state/full with its default fields (head pose, body
// yaw, antennas, control mode) and the head joints.
type FullState struct {
	ControlMode string      `json:"control_mode"`
	HeadPose    *Pose       `json:"head_pose"`
	HeadJoints  []float64   `json:"head_joints"`
	BodyYaw     *float64    `json:"body_yaw"`
	Antennas    *[2]float64 `json:"antennas_position"`
	Timestamp   string      `json:"timestamp"`
}

// State is GET /api/state/full?with_head_joints=true.
func (c *Client) State(ctx context.Context) (*FullState, error) {
	var s FullState
	if err := c.get(ctx, "/api/state/full?with_head_joints=true", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ---- move events --------------------------------------------------------------------

// MoveEvent is a frame of WS /api/move/ws/updates.
type MoveEvent struct {
	Type    string `json:"type"` // move_started, move_completed, move_failed, move_cancelled
	UUID    string `json:"uuid"`
	Details string `json:"details"`
}

// Ended reports whether the event ends its move.
func (e MoveEvent) Ended() bool {
	return e.Type == "move_completed" || e.Type == "move_failed" || e.Type == "move_cancelled"
}

// MoveWatcher follows the daemon's move events. Open it before starting a
// move so that no event is missed; close it when done.
type MoveWatcher struct {
	conn *wsConn
	mu   sync.Mutex
	ends map[string]MoveEvent
	err  error
	wake chan struct{}
	done chan struct{}
}

// WatchMoves connects to WS /api/move/ws/updates.
func (c *Client) WatchMoves(ctx context.Context) (*MoveWatcher, error) {
	conn, err := c.dialWS(ctx, "/api/move/ws/updates")
	if err != nil {
		return nil, err
	}
	w := &MoveWatcher{conn: conn, ends: map[string]MoveEvent{}, wake: make(chan struct{}), done: make(chan struct{})}
	go w.read()
	return w, nil
}

func (w *MoveWatcher) read() {
	defer close(w.done)
	for {
		_, data, err := w.conn.ReadMessage()
		w.mu.Lock()
		if err != nil {
			w.err = err
			close(w.wake)
			w.mu.Unlock()
			return
		}
		var e MoveEvent
		if json.Unmarshal(data, &e) == nil && e.Ended() {
			if len(w.ends) >= 4096 {
				// A watcher kept open for long: forget the old ends.
				clear(w.ends)
			}
			w.ends[e.UUID] = e
			close(w.wake)
			w.wake = make(chan struct{})
		}
		w.mu.Unlock()
	}
}

// Wait waits for the end of the move uuid and returns its final event.
func (w *MoveWatcher) Wait(ctx context.Context, uuid string) (MoveEvent, error) {
	for {
		w.mu.Lock()
		e, ok := w.ends[uuid]
		err, wake := w.err, w.wake
		w.mu.Unlock()
		if ok {
			return e, nil
		}
		if err != nil {
			return MoveEvent{}, &TransportError{Op: "WS /api/move/ws/updates", Err: fmt.Errorf("stream ended before the move did: %w", err)}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return MoveEvent{}, ctx.Err()
		}
	}
}

// Close ends the watcher.
func (w *MoveWatcher) Close() error {
	err := w.conn.Close()
	<-w.done
	return err
}

// MoveError is a move that ended otherwise than completed.
type MoveError struct{ Event MoveEvent }

func (e *MoveError) Error() string {
	what := map[string]string{"move_failed": "failed", "move_cancelled": "was cancelled"}[e.Event.Type]
	if what == "" {
		what = e.Event.Type
	}
	if e.Event.Details != "" {
		return "move " + what + ": " + e.Event.Details
	}
	return "move " + what
}

// RunMove starts a move with start and waits for its end: nil when it
// completed, a *MoveError when it failed or was cancelled.
func (c *Client) RunMove(ctx context.Context, start func(context.Context) (Move, error)) (Move, error) {
	w, err := c.WatchMoves(ctx)
	if err != nil {
		return Move{}, err
	}
	defer w.Close()
	m, err := start(ctx)
	if err != nil {
		return m, err
	}
	e, err := w.Wait(ctx, m.UUID)
	if err != nil {
		return m, err
	}
	if e.Type != "move_completed" {
		return m, &MoveError{Event: e}
	}
	return m, nil
}

// ---- websocket ---------------------------------------------------------------------

// wsConn is a WebSocket closed when its context ends.
type wsConn struct {
	*websocket.Conn
	stop func() bool
}

func (w *wsConn) Close() error {
	w.stop()
	return w.Conn.Close()
}

func (c *Client) wsURL(path string) string {
	u := *c.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	return u.String() + path
}

// dialWS opens a WebSocket; the handshake is bounded by the client timeout.
func (c *Client) dialWS(ctx context.Context, path string) (*wsConn, error) {
	op := "WS " + path
	hctx, cancel := c.withTimeout(ctx)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: c.timeout, ReadBufferSize: 4096, WriteBufferSize: 1024}
	if tr, ok := c.hc.Transport.(*http.Transport); ok {
		d.NetDialContext = tr.DialContext
		d.TLSClientConfig = tr.TLSClientConfig
		d.Proxy = tr.Proxy
	}
	h := http.Header{"User-Agent": {c.agent}}
	conn, resp, err := d.DialContext(hctx, c.wsURL(path), h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				body := make([]byte, 0, 512)
				buf := make([]byte, 512)
				n, _ := resp.Body.Read(buf)
				body = append(body, buf[:n]...)
				return nil, parseAPIError(resp.StatusCode, body)
			}
		}
		if errors.Is(err, websocket.ErrBadHandshake) {
			return nil, &TransportError{Op: op, Err: protocolf("%v", err)}
		}
		if hctx.Err() != nil && !errors.Is(err, hctx.Err()) {
			err = fmt.Errorf("%w (%w)", hctx.Err(), err)
		}
		return nil, &TransportError{Op: op, Err: err}
	}
	conn.SetReadLimit(maxWSMessage)
	// The connection outlives the handshake context: close it when the
	// caller's context ends so that blocked reads return.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return &wsConn{Conn: conn, stop: stop}, nil
}
