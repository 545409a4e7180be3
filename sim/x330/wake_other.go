//go:build !linux

package x330

import "time"

// alarm is Linux's timerfd (wake_linux.go); elsewhere replies are waited
// for with Go timers, up to about a millisecond late.
type alarm struct{}

func newAlarm() *alarm                  { return nil }
func (a *alarm) set(time.Duration) bool { return false }
func (a *alarm) wait()                  {}
func (a *alarm) ring()                  {}
func (a *alarm) close()                 {}
