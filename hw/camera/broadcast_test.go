package camera

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func frameN(n uint64) Frame { return Frame{Seq: n, JPEG: []byte{byte(n)}} }

func TestBroadcasterDelivery(t *testing.T) {
	tests := []struct {
		name      string
		published int
		readEvery bool     // read after each publish (a fast subscriber)
		want      []uint64 // sequence numbers received
	}{
		{"fast subscriber gets every frame", 5, true, []uint64{1, 2, 3, 4, 5}},
		{"slow subscriber gets only the newest", 5, false, []uint64{5}},
		{"nothing published, nothing received", 0, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b Broadcaster
			ch, cancel := b.Subscribe()
			var got []uint64
			drain := func() {
				for {
					select {
					case f := <-ch:
						got = append(got, f.Seq)
					default:
						return
					}
				}
			}
			for i := 1; i <= tt.published; i++ {
				b.Publish(frameN(uint64(i)))
				if tt.readEvery {
					drain()
				}
			}
			drain()
			cancel()
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// A subscriber that never reads must neither block Publish nor starve a
// subscriber that does.
func TestBroadcasterSlowSubscriberDoesNotAffectOthers(t *testing.T) {
	var b Broadcaster
	_, cancelSlow := b.Subscribe() // never read
	defer cancelSlow()
	fast, cancelFast := b.Subscribe()
	defer cancelFast()
	for i := uint64(1); i <= 100; i++ {
		b.Publish(frameN(i)) // would deadlock here if Publish blocked
		if f := <-fast; f.Seq != i {
			t.Fatalf("fast subscriber got seq %d, want %d", f.Seq, i)
		}
	}
}

func TestBroadcasterUnsubscribe(t *testing.T) {
	var b Broadcaster
	ch, cancel := b.Subscribe()
	_, cancel2 := b.Subscribe()
	defer cancel2()
	if n := b.Subscribers(); n != 2 {
		t.Fatalf("Subscribers = %d, want 2", n)
	}
	b.Publish(frameN(1))
	cancel()
	cancel() // idempotent
	if n := b.Subscribers(); n != 1 {
		t.Fatalf("Subscribers after cancel = %d, want 1", n)
	}
	// The pending frame may still be read, then the channel is closed.
	if f, ok := <-ch; !ok || f.Seq != 1 {
		t.Fatalf("pending frame: %v %v", f.Seq, ok)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel still open after unsubscribe")
	}
	b.Publish(frameN(2)) // must not send on the closed channel
}

func TestBroadcasterLatest(t *testing.T) {
	var b Broadcaster
	if _, ok := b.Latest(); ok {
		t.Fatal("Latest reports a frame before any Publish")
	}
	b.Publish(frameN(1))
	b.Publish(frameN(2))
	f, ok := b.Latest()
	if !ok || f.Seq != 2 {
		t.Fatalf("Latest = %d %v, want 2 true", f.Seq, ok)
	}
	// A new subscriber does not get the old frame replayed.
	ch, cancel := b.Subscribe()
	defer cancel()
	select {
	case f := <-ch:
		t.Fatalf("new subscriber got old frame %d", f.Seq)
	default:
	}
}

// Run under -race: concurrent publish, subscribe and unsubscribe, and every
// subscriber sees strictly increasing sequence numbers.
func TestBroadcasterConcurrent(t *testing.T) {
	var b Broadcaster
	const frames = 2000
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, cancel := b.Subscribe()
			defer cancel()
			var last uint64
			for f := range ch {
				if f.Seq <= last {
					errs <- "sequence went backwards"
					return
				}
				last = f.Seq
				if last == frames {
					return
				}
			}
		}()
	}
	// Wait until the readers are registered, so each must see the last frame.
	for b.Subscribers() < 8 {
		runtime.Gosched()
	}
	for range 4 { // churn
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				_, cancel := b.Subscribe()
				cancel()
			}
		}()
	}
	for i := uint64(1); i <= frames; i++ {
		b.Publish(frameN(i))
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// OnDemand hears every subscribe and unsubscribe; Next subscribes while it
// waits (so it is heard) and returns the next frame, not the latest.
func TestBroadcasterDemandAndNext(t *testing.T) {
	var b Broadcaster
	var calls atomic.Int32
	b.OnDemand(func() { calls.Add(1) })
	_, cancel := b.Subscribe()
	if calls.Load() != 1 || b.Subscribers() != 1 {
		t.Fatalf("after Subscribe: %d calls, %d subscribers", calls.Load(), b.Subscribers())
	}
	cancel()
	cancel()
	if calls.Load() != 2 || b.Subscribers() != 0 {
		t.Fatalf("after unsubscribe: %d calls, %d subscribers", calls.Load(), b.Subscribers())
	}

	b.Publish(frameN(1))
	got := make(chan Frame, 1)
	go func() {
		f, err := b.Next(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	for b.Subscribers() == 0 {
		time.Sleep(time.Millisecond)
	}
	b.Publish(frameN(2))
	if f := <-got; f.Seq != 2 {
		t.Fatalf("Next returned frame %d, want the next one (2)", f.Seq)
	}
	if b.Subscribers() != 0 || calls.Load() != 4 {
		t.Fatalf("Next left %d subscribers (%d calls)", b.Subscribers(), calls.Load())
	}
	ctx, cancelCtx := context.WithCancel(context.Background())
	cancelCtx()
	if _, err := b.Next(ctx); err == nil {
		t.Fatal("Next returned without a frame after its context ended")
	}

	// Fresh: the latest frame only while it is recent.
	b.Publish(Frame{Seq: 3, JPEG: []byte{1}, At: time.Now()})
	if f, ok := b.Fresh(time.Minute); !ok || f.Seq != 3 {
		t.Fatalf("Fresh = %d %v", f.Seq, ok)
	}
	b.Publish(Frame{Seq: 4, JPEG: []byte{1}, At: time.Now().Add(-time.Hour)})
	if _, ok := b.Fresh(time.Minute); ok {
		t.Fatal("an hour-old frame is fresh")
	}
}
