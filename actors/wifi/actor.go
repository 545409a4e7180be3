// Package wifi is the Wi-Fi actor of the Wireless robot: it owns the
// connection to NetworkManager (a wifi.Manager) and answers the /wifi
// routes' messages (messages/wifi.go).
//
// The Manager is this incarnation's: it is opened in Started and closed in
// Stopping and Restarting, so a crash of the actor drops the bus connection
// and the new incarnation dials a fresh one. What must outlive a crash lives
// in the Cell that system.Start makes once and hands to every incarnation: a
// wifi.State (the one-operation slot, the last error, the phone's
// provisioning keys, the running operation) and whether the start-up check
// ran. An operation running when the actor crashes is not cut short: it
// goes on to its end on the closed Manager's connection (which is closed
// then), still holding the slot, so the new incarnation answers 409 until
// it ends and reads its failure; Cell.Close, at the daemon's shutdown,
// cancels it.
//
// The mailbox never waits for NetworkManager. Operations that change the
// network are started in the background by the Manager and answered at
// once, as the reference's routes do; the queries that wait for
// NetworkManager (status, scan, and forget's look-up of the saved networks)
// run in a goroutine each, bounded by the asker's deadline, and reply from
// there to the captured sender. Only the sealed exchange's decryption (one
// X25519 and one AES-GCM operation) runs on the actor's goroutine.
//
// There is no pure core: the state machine (the slot, the fall back to the
// hotspot) is package wifi's, tested there against a fake NetworkManager.
// This package's tests drive the actor with the same fake (wifi/wifitest)
// on a private dbus-daemon bus, crash it in the middle of an operation, and
// check the slot, the last error and the keys survive and the bus
// connection is opened anew.
package wifi

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
	nmwifi "reachyd/wifi"
)

// Options configure the Wi-Fi actor.
type Options struct {
	// Manager are the options of each incarnation's Manager; its State is
	// the cell's.
	Manager nmwifi.Options
	// Startup runs the reference's start-up check (the hotspot when no
	// network is up) once per cell, when the first incarnation starts.
	Startup bool
	// Cell is kept across restarts (NewCell; made by Props when nil).
	Cell *Cell
	Log  *slog.Logger
	// QueryTimeout bounds a query whose message has no deadline (default
	// 30 s: a status reads a few objects, a scan waits up to 10 s for the
	// radio).
	QueryTimeout time.Duration
}

// Cell is what every incarnation of one Wi-Fi actor shares.
type Cell struct {
	state     *nmwifi.State
	startedUp atomic.Bool
	opened    atomic.Uint64
}

// NewCell returns the cell of a Wi-Fi actor; now is the provisioning keys'
// clock (nil: time.Now).
func NewCell(now func() time.Time) *Cell { return &Cell{state: nmwifi.NewState(now)} }

// Close cancels the running operation (NetworkManager goes on with what it
// was asked) and waits for it; the connection it used is closed with it.
// The daemon calls it at shutdown, after the actor stopped. A nil Cell is
// fine.
func (c *Cell) Close() {
	if c != nil {
		c.state.Close()
	}
}

// Opened is how many Managers the incarnations opened (one per start).
func (c *Cell) Opened() uint64 { return c.opened.Load() }

// Actor is the Wi-Fi actor.
type Actor struct {
	opt  Options
	log  *slog.Logger
	cell *Cell
	m    *nmwifi.Manager
	root *actor.RootContext
}

// Props returns the Wi-Fi actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Cell == nil {
		opt.Cell = NewCell(opt.Manager.Now)
	}
	if opt.QueryTimeout <= 0 {
		opt.QueryTimeout = 30 * time.Second
	}
	opt.Manager.State = opt.Cell.state
	if opt.Manager.Log == nil {
		opt.Manager.Log = opt.Log
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "wifi"), cell: opt.Cell}
	}, kit.CrashOption())
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.root = ctx.ActorSystem().Root
		a.m = nmwifi.New(a.opt.Manager)
		if n := a.cell.opened.Add(1); n > 1 {
			a.log.Info("Wi-Fi manager reopened", "opened", n, "busy", a.cell.state.Busy())
		}
		if a.opt.Startup && a.cell.startedUp.CompareAndSwap(false, true) {
			a.m.Startup()
		}
	case *actor.Stopping, *actor.Restarting:
		// Returns at once: an operation still running keeps this
		// connection until it ends (see the package doc).
		a.m.Close()
		a.m = nil

	case *messages.GetWifiStatus:
		a.query(ctx, m.Deadline, func(ctx context.Context, w *nmwifi.Manager) any {
			st, err := w.Status(ctx)
			if err != nil {
				return replyError(err)
			}
			return messages.WifiStatus{Mode: string(st.Mode), KnownNetworks: st.KnownNetworks, ConnectedNetwork: st.ConnectedNetwork}
		})
	case *messages.ScanWifi:
		a.query(ctx, m.Deadline, func(ctx context.Context, w *nmwifi.Manager) any {
			ssids, err := w.Scan(ctx)
			if err != nil {
				return replyError(err)
			}
			return messages.WifiNetworks{SSIDs: ssids}
		})
	case *messages.ForgetWifi:
		a.query(ctx, m.Deadline, func(ctx context.Context, w *nmwifi.Manager) any {
			return done(w.Forget(ctx, m.SSID))
		})
	case *messages.ConnectWifi:
		kit.Reply(ctx, done(a.m.Connect(m.SSID, m.Password)))
	case *messages.ConnectWifiSealed:
		kit.Reply(ctx, done(a.m.ConnectSealed(nmwifi.Sealed{SSID: m.SSID, Kid: m.Kid, EPK: m.EPK, Nonce: m.Nonce, CT: m.CT})))
	case *messages.SetupWifiHotspot:
		kit.Reply(ctx, done(a.m.SetupHotspot(m.SSID, m.Password)))
	case *messages.ForgetAllWifi:
		kit.Reply(ctx, done(a.m.ForgetAll()))
	case *messages.GetWifiProvKey:
		k, err := a.m.ProvKey()
		if err != nil {
			kit.Reply(ctx, replyError(err))
			return
		}
		kit.Reply(ctx, messages.WifiProvKey{Kid: k.Kid, PK: k.PK, Alg: k.Alg})
	case *messages.GetWifiError:
		text, ok := a.m.LastError()
		kit.Reply(ctx, messages.WifiError{Error: text, Set: ok})
	case *messages.ResetWifiError:
		a.m.ResetError()
		kit.Reply(ctx, messages.WifiOK{})
	}
}

// query runs f off the actor's goroutine, on this incarnation's Manager,
// within the asker's deadline (or QueryTimeout), and answers the asker from
// there. A tell (no sender) is not run: nobody would read the answer.
func (a *Actor) query(ctx actor.Context, deadline time.Time, f func(context.Context, *nmwifi.Manager) any) {
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	if deadline.IsZero() {
		deadline = time.Now().Add(a.opt.QueryTimeout)
	}
	root, w := a.root, a.m
	go func() {
		qctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		root.Send(sender, f(qctx, w))
	}()
}

// done is the reply of a command: WifiOK, or its error.
func done(err error) any {
	if err != nil {
		return replyError(err)
	}
	return messages.WifiOK{}
}

// replyError maps package wifi's errors to the reference's statuses.
func replyError(err error) *messages.Error {
	var unknown *nmwifi.UnknownNetworkError
	var sealed *nmwifi.SealError
	switch {
	case errors.Is(err, nmwifi.ErrBusy):
		return messages.ErrWifiBusy
	case errors.Is(err, nmwifi.ErrForgetHotspot):
		return &messages.Error{Kind: messages.KindBadRequest, Detail: err.Error(), Reason: "forget_hotspot"}
	case errors.As(err, &sealed):
		return &messages.Error{Kind: messages.KindBadRequest, Detail: err.Error(), Reason: "decrypt_failed"}
	case errors.As(err, &unknown):
		return &messages.Error{Kind: messages.KindNotFound, Detail: err.Error(), Reason: "unknown_network"}
	case errors.Is(err, nmwifi.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &messages.Error{Kind: messages.KindUnavailable, Detail: unavailableText(err), Reason: "wifi_unavailable"}
	}
	return &messages.Error{Kind: messages.KindInternal, Detail: err.Error()}
}

// unavailableText keeps package wifi's "NetworkManager is not reachable:
// ..." and says the same of a query that ran out of time.
func unavailableText(err error) string {
	if errors.Is(err, nmwifi.ErrUnavailable) {
		return err.Error()
	}
	return nmwifi.ErrUnavailable.Error() + ": " + err.Error()
}
