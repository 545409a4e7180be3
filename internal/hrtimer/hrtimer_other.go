//go:build !linux

package hrtimer

import "time"

// Alarm is Linux's timerfd (hrtimer_linux.go); elsewhere New returns nil
// and callers wait with Go timers, up to about a millisecond late.
type Alarm struct{}

// New returns nil: there is no timerfd here.
func New(string) *Alarm { return nil }

// Set reports false: a nil alarm never rings.
func (a *Alarm) Set(time.Duration) bool { return false }

// Wait returns false at once.
func (a *Alarm) Wait() bool { return false }

// Ring does nothing.
func (a *Alarm) Ring() {}

// Close does nothing.
func (a *Alarm) Close() {}
