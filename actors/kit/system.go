// Package kit is reachyd's thin layer over protoactor-go: the actor system
// with our slog logger, asks that honour a context.Context, non-blocking asks
// from inside an actor, and a supervision strategy with capped exponential
// backoff, jitter and a failure budget whose decisions are published as
// events. Keeping protoactor behind this package means an upstream API change
// stays here.
package kit

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// System wraps a protoactor actor system.
type System struct {
	AS   *actor.ActorSystem
	Root *actor.RootContext
	Log  *slog.Logger
}

// NewSystem builds an actor system that logs through log (protoactor's own
// default writes colored text to stderr) and never starts a metrics server.
func NewSystem(log *slog.Logger) *System {
	if log == nil {
		log = slog.Default()
	}
	cfg := actor.Configure(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			// protoactor logs every restart and dead letter at Info; those
			// are already reported by our supervision events, so keep its
			// voice one level down.
			return slog.New(downgrade{log.Handler()}).With("lib", "protoactor")
		}),
		actor.WithDeadLetterThrottleInterval(10*time.Second),
		actor.WithDeadLetterThrottleCount(3),
		actor.WithDeadLetterRequestLogging(false),
	)
	as := actor.NewActorSystemWithConfig(cfg)
	return &System{AS: as, Root: as.Root, Log: log}
}

// Tell sends msg to pid without waiting.
func (s *System) Tell(pid *actor.PID, msg any) { s.Root.Send(pid, msg) }

// Publish puts an event on the system's event stream.
func (s *System) Publish(evt any) { s.AS.EventStream.Publish(evt) }

// Subscribe registers fn for every event of type T on the event stream and
// returns a function that removes the subscription. fn runs on the
// publisher's goroutine: it must only hand the event on (for example, Tell).
func Subscribe[T any](s *System, fn func(T)) (cancel func()) {
	sub := s.AS.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(T); ok {
			fn(e)
		}
	})
	return func() { s.AS.EventStream.Unsubscribe(sub) }
}

// Subscriptions returns the number of subscriptions on the event stream
// (protoactor's own included): tests use it to check that actors release
// theirs when they stop or restart.
func (s *System) Subscriptions() int { return int(s.AS.EventStream.Length()) }

// Shutdown stops the actor system.
func (s *System) Shutdown() { s.AS.Shutdown() }

// PID returns the process id of a locally named actor (for example
// "daemon/robot/moves"). A PID resolves its process at send time, so it stays
// valid across restarts of that actor.
func (s *System) PID(id string) *actor.PID { return actor.NewPID(s.AS.Address(), id) }
