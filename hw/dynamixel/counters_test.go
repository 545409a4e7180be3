package dynamixel

import (
	"errors"
	"testing"
)

// TestCountersPerDevice checks that each outcome lands on the device it
// happened to, in single-device exchanges and in a sync read, retries
// included.
func TestCountersPerDevice(t *testing.T) {
	c, f := newTestClient(10, 11, 12)
	var ctr Counters
	c.SetCounters(&ctr)

	// A clean read: one exchange with 10.
	if _, err := c.Read(10, AddrPresentPosition, 4); err != nil {
		t.Fatal(err)
	}
	// 11 is silent: every attempt is an exchange and a timeout.
	f.silent[11] = true
	if _, err := c.Read(11, AddrPresentPosition, 4); !errors.Is(err, ErrTimeout) {
		t.Fatal(err)
	}
	f.silent[11] = false
	// 12 reports an out-of-range error with its alert bit: not retried.
	f.statusErr[12] = 0x80 | byte(ErrDataRange)
	if err := c.Write(12, AddrGoalPosition, []byte{0, 0, 0, 0}); !errors.Is(err, ErrDataRange) {
		t.Fatal(err)
	}
	f.statusErr[12] = 0
	// One damaged reply from 10, then the retry succeeds.
	f.corrupt = 1
	if _, err := c.Read(10, AddrPresentPosition, 4); err != nil {
		t.Fatal(err)
	}

	want := map[byte][numOutcomes]uint64{
		10: {Exchanges: 3, Corrupted: 1},
		11: {Exchanges: DefaultAttempts, Timeouts: DefaultAttempts},
		12: {Exchanges: 1, StatusErrors: 1, HardwareAlerts: 1},
	}
	check := func(when string) {
		t.Helper()
		for id, w := range want {
			for o := Outcome(0); o < numOutcomes; o++ {
				if got := ctr.Get(id, o); got != w[o] {
					t.Errorf("%s: ID %d %s = %d, want %d", when, id, OutcomeNames[o], got, w[o])
				}
			}
		}
	}
	check("single")

	// A sync read in which 11 never answers: one exchange per device and
	// attempt; 11 also answers the barriers sent before each retry (it is
	// suspect), which time out and count as exchanges too.
	f.silent[11] = true
	before := [3]uint64{ctr.Get(10, Exchanges), ctr.Get(11, Exchanges), ctr.Get(11, Timeouts)}
	if _, err := c.SyncRead(AddrPresentPosition, 4, []byte{10, 11, 12}); err == nil {
		t.Fatal("sync read with a silent device succeeded")
	}
	if d := ctr.Get(10, Exchanges) - before[0]; d != 1 {
		t.Errorf("ID 10: %d sync-read exchanges, want 1", d)
	}
	ex, to := ctr.Get(11, Exchanges)-before[1], ctr.Get(11, Timeouts)-before[2]
	if ex == 0 || ex != to {
		t.Errorf("ID 11: %d exchanges and %d timeouts in the sync read, want as many (and some)", ex, to)
	}
	if ctr.Get(12, Timeouts) != 0 || ctr.Get(10, Timeouts) != 0 {
		t.Error("timeouts counted on devices that answered")
	}

	// No counters: nothing counted, nothing breaks.
	c.SetCounters(nil)
	n := ctr.Get(10, Exchanges)
	if _, err := c.Read(10, AddrPresentPosition, 4); err != nil || ctr.Get(10, Exchanges) != n {
		t.Fatalf("counted without counters: %v", err)
	}
	var nilCtr *Counters
	if nilCtr.Get(1, Exchanges) != 0 || ctr.Get(1, Outcome(99)) != 0 {
		t.Fatal("Get out of range")
	}
}
