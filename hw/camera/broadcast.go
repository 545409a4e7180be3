package camera

import (
	"context"
	"sync"
	"time"
)

// Broadcaster fans frames out from one source to any number of subscribers.
//
// Each subscriber has a queue of one frame in which the newest frame
// replaces an undelivered older one. A subscriber that cannot keep up thus
// skips frames and always gets the freshest picture when it is ready, and
// Publish never waits for anyone: a stalled HTTP client cannot slow the
// camera or the other viewers. Video is the one stream where dropping is
// always right, since a late frame is worth less than the next one.
//
// The zero value is ready to use. All methods are safe for concurrent use.
type Broadcaster struct {
	mu     sync.Mutex
	subs   map[*subscription]struct{}
	latest Frame
	has    bool
	demand func()
}

type subscription struct {
	ch chan Frame
}

// NewBroadcaster returns an empty Broadcaster; it is the same as new(Broadcaster).
func NewBroadcaster() *Broadcaster { return new(Broadcaster) }

// Subscribe registers a subscriber. Frames published from now on arrive on
// the channel, with skips when the subscriber is slow; the last frame
// published before Subscribe is not replayed (use Latest). The returned
// function unsubscribes and closes the channel; it may be called more than
// once, from any goroutine. A subscriber must call it, or it stays
// registered for the life of the Broadcaster.
func (b *Broadcaster) Subscribe() (<-chan Frame, func()) {
	s := &subscription{ch: make(chan Frame, 1)}
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[*subscription]struct{})
	}
	b.subs[s] = struct{}{}
	demand := b.demand
	b.mu.Unlock()
	if demand != nil {
		demand()
	}
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s)
			// Publish only sends while holding mu and after checking
			// membership, so closing here cannot race with a send.
			close(s.ch)
			demand := b.demand
			b.mu.Unlock()
			if demand != nil {
				demand()
			}
		})
	}
}

// OnDemand registers fn, called after every Subscribe and unsubscribe (fn
// nil: none), so that the camera's owner can run the source only while
// someone watches. fn runs on the subscriber's goroutine, outside the
// Broadcaster's lock, and may be called concurrently: it should only hand
// the news on and let the owner read Subscribers.
func (b *Broadcaster) OnDemand(fn func()) {
	b.mu.Lock()
	b.demand = fn
	b.mu.Unlock()
}

// Fresh returns the latest frame if it was taken less than maxAge ago: a
// camera that runs only while watched leaves an old picture behind.
func (b *Broadcaster) Fresh(maxAge time.Duration) (Frame, bool) {
	f, ok := b.Latest()
	if !ok || time.Since(f.At) > maxAge {
		return Frame{}, false
	}
	return f, true
}

// Next waits for the next frame published (subscribing meanwhile, which
// starts a camera that runs on demand) until ctx ends.
func (b *Broadcaster) Next(ctx context.Context) (Frame, error) {
	frames, unsubscribe := b.Subscribe()
	defer unsubscribe()
	select {
	case f := <-frames:
		return f, nil
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// Publish records f as the latest frame and offers it to every subscriber,
// replacing any frame still waiting in a subscriber's queue. It never blocks.
func (b *Broadcaster) Publish(f Frame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latest, b.has = f, true
	for s := range b.subs {
		select {
		case s.ch <- f:
			continue
		default:
		}
		// Full: drop the stale frame. The subscriber may have taken it
		// meanwhile, which is as good; either way there is room now,
		// since only Publish sends and we hold mu.
		select {
		case <-s.ch:
		default:
		}
		select {
		case s.ch <- f:
		default:
		}
	}
}

// Latest returns the most recently published frame, and false if nothing
// has been published yet. It serves snapshots and lets a new viewer show
// something before the next frame arrives.
func (b *Broadcaster) Latest() (Frame, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latest, b.has
}

// Subscribers reports how many subscribers are registered, for status pages.
func (b *Broadcaster) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
