// Package applock is the robot app lock: which managed app owns the robot,
// a local app (started by the app manager) or a remote session (a WebRTC
// client through the central relay). SDK clients talking to the daemon
// directly bypass it, as in the reference.
//
// The Lock is a pure state machine with the reference's semantics
// (spec 5.1); where the reference calls handlers, it returns events, which
// the actor publishes. Delivering an event cannot fail, so the reference's
// "handler errors are swallowed" holds by construction.
package applock

import (
	"fmt"
	"reachyd/internal/pyfmt"

	"reachyd/messages"
)

// Lock is the lock's state. Not safe for concurrent use.
type Lock struct {
	state  messages.LockState
	holder string
}

// New returns a free lock.
func New() *Lock { return &Lock{state: messages.LockFree} }

// Status returns the state and holder ("" when free).
func (l *Lock) Status() (messages.LockState, string) { return l.state, l.holder }

// RemoteHolder is the holder name of every remote session, as the reference
// reports it.
const RemoteHolder = "remote"

func errLocalHeld(holder string) error {
	return &messages.Error{Kind: messages.KindBadRequest, Reason: "local_app_running",
		Detail: fmt.Sprintf("A local app is already running: %s", pyfmt.Repr(holder))}
}

// TryAcquireLocal takes the lock for a local app only if it is free; it
// never evicts a remote session.
func (l *Lock) TryAcquireLocal(name string) (bool, []messages.LockEvent) {
	if l.state != messages.LockFree {
		return false, nil
	}
	l.state, l.holder = messages.LockLocal, name
	return true, []messages.LockEvent{{Kind: messages.LockLocalAcquired, Holder: name}}
}

// AcquireLocalEvicting takes the lock for a local app, evicting a remote
// session (which moves to local_app at once, without passing through free:
// no free event). A local app already holding it is an error.
func (l *Lock) AcquireLocalEvicting(name string) ([]messages.LockEvent, error) {
	if l.state == messages.LockLocal {
		return nil, errLocalHeld(l.holder)
	}
	var evs []messages.LockEvent
	if l.state == messages.LockRemote {
		evs = append(evs, messages.LockEvent{Kind: messages.LockRemoteEvicted, Holder: l.holder})
	}
	l.state, l.holder = messages.LockLocal, name
	return append(evs, messages.LockEvent{Kind: messages.LockLocalAcquired, Holder: name}), nil
}

// AcquireLocalKeeping takes the lock for a local app started by the remote
// client itself: the remote session stays (no eviction).
func (l *Lock) AcquireLocalKeeping(name string) ([]messages.LockEvent, error) {
	if l.state == messages.LockLocal {
		return nil, errLocalHeld(l.holder)
	}
	l.state, l.holder = messages.LockLocal, name
	return []messages.LockEvent{{Kind: messages.LockLocalAcquired, Holder: name}}, nil
}

// ReleaseLocal frees a lock held by a local app. Idempotent: a no-op
// (no event) in any other state. A holder mismatch still releases (a stale
// release after a quick stop/start must not wedge the slot); name "" skips
// the check.
func (l *Lock) ReleaseLocal(name string) (mismatch bool, evs []messages.LockEvent) {
	if l.state != messages.LockLocal {
		return false, nil
	}
	mismatch = name != "" && name != l.holder
	l.state, l.holder = messages.LockFree, ""
	return mismatch, []messages.LockEvent{{Kind: messages.LockBecameFree}}
}

// TryAcquireRemote takes the lock for a remote session only if it is free.
func (l *Lock) TryAcquireRemote(name string) (bool, []messages.LockEvent) {
	if l.state != messages.LockFree {
		return false, nil
	}
	if name == "" {
		name = RemoteHolder
	}
	l.state, l.holder = messages.LockRemote, name
	return true, []messages.LockEvent{{Kind: messages.LockRemoteAcquired, Holder: name}}
}

// ReleaseRemote frees a lock held by a remote session; handoff says the
// client ended its session on purpose (another is likely on its way), so
// the idle reset waits longer. Idempotent.
func (l *Lock) ReleaseRemote(handoff bool) []messages.LockEvent {
	if l.state != messages.LockRemote {
		return nil
	}
	l.state, l.holder = messages.LockFree, ""
	return []messages.LockEvent{{Kind: messages.LockBecameFree, Handoff: handoff}}
}

// Restore loads a state kept across a restart of the actor.
func (l *Lock) Restore(state messages.LockState, holder string) {
	l.state, l.holder = state, holder
	if l.state == "" {
		l.state = messages.LockFree
	}
}
