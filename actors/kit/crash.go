package kit

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

// Crash makes an actor built with Crashable panic, as a bug would. It is
// fault injection for supervision tests and chaos drills; only code with
// access to the actor system can send it.
type Crash struct{ Reason string }

// Crashable is a receiver middleware that panics on Crash.
func Crashable(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if m, ok := env.Message.(*Crash); ok {
			panic(fmt.Sprintf("injected crash: %s", m.Reason))
		}
		next(c, env)
	}
}

// CrashOption is the option every reachyd actor is built with: Crashable,
// and the spawn-safe mailbox (see SpawnSafeMailbox), since each of them
// receives messages by name from other goroutines and may be (re)spawned
// while they arrive.
func CrashOption() actor.PropsOption {
	crash, mailbox := actor.WithReceiverMiddleware(Crashable), actor.WithMailbox(SpawnSafeMailbox())
	return func(p *actor.Props) {
		crash(p)
		mailbox(p)
	}
}
