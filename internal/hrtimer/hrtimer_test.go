package hrtimer

import (
	"runtime"
	"testing"
	"time"
)

func need(t *testing.T) *Alarm {
	t.Helper()
	a := New("test")
	if a == nil {
		if runtime.GOOS == "linux" {
			t.Fatal("no timerfd on Linux")
		}
		t.Skip("no timerfd here")
	}
	t.Cleanup(a.Close)
	return a
}

func TestRingsAfterItsDelay(t *testing.T) {
	a := need(t)
	start := time.Now()
	if !a.Set(20 * time.Millisecond) {
		t.Fatal("Set failed")
	}
	if !a.Wait() {
		t.Fatal("Wait reported closed")
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("rang after %v, before its 20 ms", d)
	}
}

func TestSetReplacesAnEarlierSetting(t *testing.T) {
	a := need(t)
	a.Set(time.Millisecond)
	time.Sleep(5 * time.Millisecond) // the first setting has expired, unread
	start := time.Now()
	a.Set(30 * time.Millisecond)
	a.Wait()
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("a stale ring woke the wait after %v", d)
	}
}

func TestRingAndClose(t *testing.T) {
	a := need(t)
	a.Set(time.Hour)
	go a.Ring()
	if !a.Wait() {
		t.Fatal("a ring was reported as a close")
	}
	a.Set(time.Hour)
	done := make(chan bool)
	go func() { done <- a.Wait() }()
	a.Close()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Wait reported a ring after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the Wait")
	}
	if a.Set(time.Millisecond) {
		t.Fatal("Set succeeded on a closed alarm")
	}
}
