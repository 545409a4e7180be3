//go:build !linux

package rtloop

import (
	"errors"
	"time"
)

// Loop needs Linux (epoll, timerfd, eventfd); elsewhere Start fails and the
// caller keeps protoactor's dispatcher and Go timers.
type Loop struct{}

// Start fails outside Linux.
func Start(Options) (*Loop, error) { return nil, errors.ErrUnsupported }

func (l *Loop) Mode() Mode            { return Mode{Policy: "normal"} }
func (l *Loop) TID() int              { return 0 }
func (l *Loop) Schedule(fn func())    { go fn() }
func (l *Loop) Arm(time.Duration)     {}
func (l *Loop) Close()                {}
func (l *Loop) Done() <-chan struct{} { return nil }
