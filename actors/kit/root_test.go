package kit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/messages"
)

// rootRig runs a root with two counters, "a" and "b", and records its
// decisions.
type rootRig struct {
	t      *testing.T
	s      *System
	mu     sync.Mutex
	events []messages.SupervisionEvent
	gaveUp chan string
}

func newRootRig(t *testing.T) *rootRig {
	r := &rootRig{t: t, s: quietSystem(), gaveUp: make(chan string, 2)}
	t.Cleanup(r.s.Shutdown)
	counter := actor.PropsFromProducer(func() actor.Actor { return &counter{} })
	props := RootProps(RootOptions{
		Children: []Child{{"a", counter}, {"b", counter}},
		Child:    Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, HalfLife: time.Hour, Budget: 2},
		Tree:     Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, HalfLife: time.Hour, Budget: 2},
		Publish: func(e messages.SupervisionEvent) {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		},
		Unrecoverable: func(reason string) { r.gaveUp <- reason },
	})
	pid, err := r.s.Root.SpawnNamed(props, "root")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.AskAny(context.Background(), pid, &TreeReady{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// count asks a child for its counter, waiting while it is being respawned
// (an ask that reaches a failed child just before it is stopped is never
// answered: hence the short asks).
func (r *rootRig) count(name string) (int, error) {
	var n int
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		n, err = Ask[int](ctx, r.s, r.s.PID("root/"+name), countMsg{})
		cancel()
		if !errors.Is(err, ErrNoActor) && !errors.Is(err, ErrTimeout) {
			break
		}
	}
	return n, err
}

func (r *rootRig) directives() []messages.Directive {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []messages.Directive
	for _, e := range r.events {
		out = append(out, e.Directive)
	}
	return out
}

// TestRootRespawnsACrashLoopingChild: a child that spends its budget is
// stopped and spawned afresh, and then serves again.
func TestRootRespawnsACrashLoopingChild(t *testing.T) {
	r := newRootRig(t)
	for i := 0; i < 3; i++ {
		if _, err := r.count("a"); err != nil {
			t.Fatal(err)
		}
		r.s.Tell(r.s.PID("root/a"), panicMsg{})
	}
	if n, err := r.count("a"); err != nil || n != 1 {
		t.Fatalf("after the respawn: %v %v", n, err)
	}
	got := r.directives()
	want := []messages.Directive{messages.DirectiveRestart, messages.DirectiveRestart, messages.DirectiveRespawn}
	if len(got) != len(want) {
		t.Fatalf("decisions %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("decisions %v, want %v", got, want)
		}
	}
	select {
	case reason := <-r.gaveUp:
		t.Fatalf("gave up after one respawn: %s", reason)
	default:
	}
	if n, err := r.count("b"); err != nil || n != 1 {
		t.Fatalf("the other child: %v %v", n, err)
	}
}

// TestRootGivesUpWhenRespawnsDoNotHelp: a child that keeps crash-looping
// after its respawns spends the tree's budget: the root reports it cannot
// recover, once.
func TestRootGivesUpWhenRespawnsDoNotHelp(t *testing.T) {
	r := newRootRig(t)
	var reason string
	deadline := time.After(10 * time.Second)
loop:
	for {
		select {
		case reason = <-r.gaveUp:
			break loop
		case <-deadline:
			t.Fatalf("the root never gave up: %v", r.directives())
		default:
		}
		// Crash it whenever it is up (a quick ask says it is).
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		if _, err := Ask[int](ctx, r.s, r.s.PID("root/a"), countMsg{}); err == nil {
			r.s.Tell(r.s.PID("root/a"), panicMsg{})
		}
		cancel()
	}
	got := r.directives()
	if got[len(got)-1] != messages.DirectiveUnrecoverable {
		t.Fatalf("decisions %v", got)
	}
	respawns := 0
	for _, d := range got {
		if d == messages.DirectiveRespawn {
			respawns++
		}
	}
	if respawns != 2 {
		t.Fatalf("%d respawns before giving up (tree budget 2): %v", respawns, got)
	}
	if reason == "" {
		t.Fatal("no reason")
	}
	select {
	case again := <-r.gaveUp:
		t.Fatalf("gave up twice: %s", again)
	case <-time.After(50 * time.Millisecond):
	}
}
