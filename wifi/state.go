package wifi

import (
	"context"
	"sync"
	"time"
)

// State is what must outlive one Manager: the operation slot (busy), the
// last failure of a background operation, the provisioning keys, and the
// background operations themselves.
//
// A Manager is one connection to NetworkManager. An owner that replaces its
// Manager (the Wi-Fi actor, restarted after a crash, opens a new one) hands
// the same State to the next Manager: an operation still running on the old
// one keeps the slot, so the new one answers ErrBusy until it ends, and
// records its failure where the new one reads it; a key a phone fetched
// before the replacement still opens its password. An operation is not cut
// short by the replacement: NetworkManager is in the middle of what it was
// asked, and the operation's fall back to the hotspot is what keeps a
// headless robot reachable when a join fails.
//
// State.Close ends it all: the running operation is cancelled (NetworkManager
// goes on with what it was asked) and waited for.
type State struct {
	keys *keyRing

	ctx    context.Context // the operations'; ends with Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // running operations

	mu      sync.Mutex
	busy    bool
	lastErr string
	hasErr  bool
}

// NewState returns an idle State without error. now is the provisioning
// keys' clock (nil: time.Now).
func NewState(now func() time.Time) *State {
	ctx, cancel := context.WithCancel(context.Background())
	return &State{keys: newKeyRing(now), ctx: ctx, cancel: cancel}
}

// Close cancels the running operation and waits for it to end. Afterwards
// every operation is refused with ErrBusy. A nil State is fine.
func (s *State) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// Busy reports whether an operation runs.
func (s *State) Busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// LastError returns the last background failure; ok is false when there
// is none.
func (s *State) LastError() (text string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr, s.hasErr
}

// ResetError forgets the last failure.
func (s *State) ResetError() { s.setError("") }

func (s *State) setError(text string) {
	s.mu.Lock()
	s.lastErr, s.hasErr = text, text != ""
	s.mu.Unlock()
}

// begin takes the operation slot. The operation's goroutine is counted
// under the same lock, so that Close, which cancels under it, waits for
// every operation that got the slot.
func (s *State) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy || s.ctx.Err() != nil {
		return ErrBusy
	}
	s.busy = true
	s.wg.Add(1)
	return nil
}

// end frees the slot: the operation ended, or did not start after all.
func (s *State) end() {
	s.mu.Lock()
	s.busy = false
	s.mu.Unlock()
	s.wg.Done()
}
