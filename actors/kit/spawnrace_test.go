package kit

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// TestSendingToAnActorBeingSpawnedDoesNotPanic: protoactor registers a
// new actor's name before its mailbox has a dispatcher, so a message sent
// to that name at that instant panics in the sender (a nil dispatcher).
// Respawns and backend restarts make it likely under load: a WebSocket
// reader that streams targets to moves while the backend starts would
// take the process down, or leave the new actor's mailbox stuck. The
// spawn-safe mailbox (every actor's, through CrashOption) holds such a
// message until the actor can run.
func TestSendingToAnActorBeingSpawnedDoesNotPanic(t *testing.T) {
	s := quietSystem()
	defer s.Shutdown()
	var got atomic.Int64
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(countMsg); ok {
			got.Add(1)
		}
	}, CrashOption())
	pid := s.PID("target")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.Tell(pid, countMsg{})
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		p, err := s.Root.SpawnNamed(props, "target")
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Root.StopFuture(p).Wait()
	}
	close(stop)
	<-done
	if got.Load() == 0 {
		t.Fatal("no message delivered")
	}
	// And a last incarnation takes messages (its mailbox is not stuck).
	p, err := s.Root.SpawnNamed(props, "target")
	if err != nil {
		t.Fatal(err)
	}
	before := got.Load()
	for deadline := time.Now().Add(5 * time.Second); got.Load() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the last incarnation does not process messages")
		}
		s.Tell(p, countMsg{})
	}
}
