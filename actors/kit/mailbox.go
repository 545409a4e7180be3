package kit

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// spawnSafe wraps protoactor's unbounded mailbox. protoactor registers a
// new actor's name before it gives the mailbox its dispatcher, so a
// message sent to that name in between (a WebSocket reader streaming to
// moves while the backend starts, a tell to a top-level actor being
// respawned) dereferences a nil dispatcher: the sender panics, and the
// mailbox is left marked as scheduled, so the new actor never runs. This
// mailbox holds what arrives before its handlers are registered and posts
// it, in order, once they are.
type spawnSafe struct {
	actor.Mailbox
	ready atomic.Bool
	mu    sync.Mutex
	early []early
}

type early struct {
	msg    any
	system bool
}

// SpawnSafeMailbox produces spawnSafe mailboxes (protoactor's unbounded
// mailbox behind).
func SpawnSafeMailbox() actor.MailboxProducer {
	inner := actor.Unbounded()
	return func() actor.Mailbox { return &spawnSafe{Mailbox: inner()} }
}

func (m *spawnSafe) post(msg any, system bool) {
	if !m.ready.Load() {
		m.mu.Lock()
		if !m.ready.Load() {
			m.early = append(m.early, early{msg, system})
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
	}
	if system {
		m.Mailbox.PostSystemMessage(msg)
	} else {
		m.Mailbox.PostUserMessage(msg)
	}
}

// PostUserMessage implements actor.Mailbox.
func (m *spawnSafe) PostUserMessage(msg any) { m.post(msg, false) }

// PostSystemMessage implements actor.Mailbox.
func (m *spawnSafe) PostSystemMessage(msg any) { m.post(msg, true) }

// RegisterHandlers implements actor.Mailbox: from now on the mailbox can
// schedule, so what arrived early is posted, before anything later (the
// lock keeps a sender's order).
func (m *spawnSafe) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.Mailbox.RegisterHandlers(invoker, dispatcher)
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.early {
		if e.system {
			m.Mailbox.PostSystemMessage(e.msg)
		} else {
			m.Mailbox.PostUserMessage(e.msg)
		}
	}
	m.early = nil
	m.ready.Store(true)
}
