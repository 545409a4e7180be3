package kit

import (
	"fmt"
	"math/rand/v2"
	"reachyd/internal/backoff"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/messages"
)

// Backoff is a supervision policy. protoactor's own "exponential" strategy is
// linear and never gives up; this one doubles the delay per recent failure up
// to Max, spreads restarts with Jitter, and stops (or escalates) once the
// failure budget is spent. Failures decay with a half-life, as in
// thejerf/suture, so an actor that fails once an hour is never given up on.
type Backoff struct {
	// Initial is the delay before the first restart (0 restarts at once).
	Initial time.Duration
	// Max caps the delay.
	Max time.Duration
	// Jitter spreads the delay by up to +-Jitter (a fraction, 0..1).
	Jitter float64
	// HalfLife is the time for the failure count to halve.
	HalfLife time.Duration
	// Budget is the decayed failure count above which the supervisor gives
	// up on the child (0 = never give up).
	Budget float64
	// Escalate sends an exhausted child's failure to the supervisor's parent
	// instead of stopping the child.
	Escalate bool
}

// DefaultBackoff suits actors that own state or I/O: a first restart after
// 10 ms, doubling to 5 s, giving up after about 10 failures in quick
// succession.
var DefaultBackoff = Backoff{
	Initial:  10 * time.Millisecond,
	Max:      5 * time.Second,
	Jitter:   0.2,
	HalfLife: 30 * time.Second,
	Budget:   10,
}

// FailureState is the per-child memory of a Backoff.
type FailureState struct {
	Failures float64
	Last     time.Time
}

// Decide is the pure core of the strategy: given the child's state, the time
// of the new failure and a uniform random number in [0,1), it returns the new
// state, the directive and the delay before a restart.
func (b Backoff) Decide(st FailureState, now time.Time, random float64) (FailureState, messages.Directive, time.Duration) {
	p := backoff.Policy{Initial: b.Initial, Max: b.Max, Jitter: b.Jitter, HalfLife: b.HalfLife, Budget: b.Budget}
	next, d, giveUp := p.Next(backoff.State(st), now, random)
	switch {
	case !giveUp:
		return FailureState(next), messages.DirectiveRestart, d
	case b.Escalate:
		return FailureState(next), messages.DirectiveEscalate, 0
	}
	return FailureState(next), messages.DirectiveStop, 0
}

// Strategy adapts a Backoff to protoactor's SupervisorStrategy. Publish
// receives every decision (usually System.Publish); Now defaults to
// time.Now.
type Strategy struct {
	Policy  Backoff
	Publish func(messages.SupervisionEvent)
	Now     func() time.Time

	mu    sync.Mutex
	state map[string]FailureState
}

// NewStrategy returns a strategy that publishes its decisions on s's event
// stream.
func NewStrategy(s *System, p Backoff) *Strategy {
	return &Strategy{Policy: p, Publish: func(e messages.SupervisionEvent) { s.Publish(e) }}
}

var _ actor.SupervisorStrategy = (*Strategy)(nil)

// HandleFailure implements actor.SupervisorStrategy.
func (s *Strategy) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, msg any) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	s.mu.Lock()
	if s.state == nil {
		s.state = map[string]FailureState{}
	}
	st, dir, delay := s.Policy.Decide(s.state[child.Id], t, rand.Float64())
	s.state[child.Id] = st
	s.mu.Unlock()

	if s.Publish != nil {
		s.Publish(messages.SupervisionEvent{
			At:        t,
			Child:     child.Id,
			Reason:    fmt.Sprint(reason),
			Directive: dir,
			Delay:     delay,
			DelayMS:   float64(delay) / float64(time.Millisecond),
			Failures:  st.Failures,
			Budget:    s.Policy.Budget,
		})
	}
	switch dir {
	case messages.DirectiveStop:
		sup.StopChildren(child)
	case messages.DirectiveEscalate:
		sup.EscalateFailure(reason, msg)
	default:
		if delay <= 0 {
			sup.RestartChildren(child)
			return
		}
		// The child's mailbox stays suspended meanwhile: messages sent to it
		// wait and are delivered after the restart.
		time.AfterFunc(delay, func() { sup.RestartChildren(child) })
	}
}
