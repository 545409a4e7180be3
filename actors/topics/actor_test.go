package topics

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// TestARestartedBrokerKeepsOneFeedAndOneSubscription: the broker's feed
// timer and its job-batch subscription belong to one incarnation. After
// crashes, robot_state is still fed at its rate (not once more per crash)
// and a job batch reaches a subscriber once (not once per crash).
func TestARestartedBrokerKeepsOneFeedAndOneSubscription(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	var asks atomic.Int64
	hub, err := s.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*messages.GetState); ok {
			asks.Add(1)
			ctx.Respond(&messages.RobotState{})
		}
	}), "hub")
	if err != nil {
		t.Fatal(err)
	}
	const hz = 20
	// A parent that restarts it at once, every time; it answers once the
	// child is spawned.
	parent := kit.RootProps(kit.RootOptions{Children: []kit.Child{{Name: "topics", Props: Props(Options{Hub: hub, StateHz: hz})}}})
	ppid, err := s.Root.SpawnNamed(parent, "parent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AskAny(context.Background(), ppid, &kit.TreeReady{}); err != nil {
		t.Fatal(err)
	}
	pid := s.PID("parent/topics")
	var mu sync.Mutex
	var jobs []string
	sink := func(topic, _ string, f []byte) bool {
		if topic == TopicJobProgress {
			mu.Lock()
			jobs = append(jobs, string(f))
			mu.Unlock()
		}
		return true
	}
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := s.AskAny(ctx, pid, &messages.GetTopicStats{}); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.AskAny(ctx, pid, &messages.TopicAttach{Client: "c", Sink: sink, Internal: true}); err != nil {
		t.Fatal(err)
	}
	s.Tell(pid, &messages.TopicSubscribe{Client: "c", Topic: TopicRobotState})
	s.Tell(pid, &messages.TopicSubscribe{Client: "c", Topic: TopicJobProgress})
	if _, err := s.AskAny(ctx, pid, &messages.GetTopicStats{}); err != nil {
		t.Fatal(err)
	}
	subs := s.Subscriptions()

	const crashes = 5
	for i := 0; i < crashes; i++ {
		s.Tell(pid, &kit.Crash{Reason: "test"})
		if _, err := s.AskAny(ctx, pid, &messages.GetTopicStats{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Subscriptions(); n != subs {
		t.Errorf("event-stream subscriptions after %d crashes: %d, want %d", crashes, n, subs)
	}

	// One batch, then another: once the second arrives, every copy of the
	// first has (each subscription forwards in publication order).
	s.Publish(messages.JobBatch{ID: "first"})
	s.Publish(messages.JobBatch{ID: "second"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(jobs, "\n")
		mu.Unlock()
		if strings.Contains(got, `"second"`) {
			if n := strings.Count(got, `"first"`); n != 1 {
				t.Errorf("the first job batch reached the subscriber %d times", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job batches not delivered: %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// robot_state is fed at its rate: a feed loop per crash would ask the
	// hub several times as often. The bound is generous (a loaded machine
	// only ever feeds less often).
	time.Sleep(200 * time.Millisecond)
	before := asks.Load()
	time.Sleep(time.Second)
	if n := asks.Load() - before; n > hz*3/2 {
		t.Errorf("the hub was asked for the state %d times in a second at %d Hz", n, hz)
	}
}
