package applock

import (
	"testing"

	"reachyd/messages"
)

// The cases below follow the reference's test_robot_app_lock summary
// (spec section 8), with events standing for its handler calls.

func kinds(evs []messages.LockEvent) []messages.LockEventKind {
	var k []messages.LockEventKind
	for _, e := range evs {
		k = append(k, e.Kind)
	}
	return k
}

func is(t *testing.T, l *Lock, state messages.LockState, holder string) {
	t.Helper()
	if s, h := l.Status(); s != state || h != holder {
		t.Fatalf("lock is %s/%q, want %s/%q", s, h, state, holder)
	}
}

func TestStartsFreeAndLocalAcquireRelease(t *testing.T) {
	l := New()
	is(t, l, messages.LockFree, "")
	if _, err := l.AcquireLocalEvicting("app"); err != nil {
		t.Fatal(err)
	}
	is(t, l, messages.LockLocal, "app")
	_, evs := l.ReleaseLocal("app")
	is(t, l, messages.LockFree, "")
	if len(evs) != 1 || evs[0].Kind != messages.LockBecameFree || evs[0].Handoff {
		t.Fatalf("release events %v", evs)
	}
}

func TestTryLocalOnlyFromFreeAndNeverDisplacesRemote(t *testing.T) {
	l := New()
	ok, _ := l.TryAcquireLocal("a")
	if !ok {
		t.Fatal("try from free failed")
	}
	if ok, _ := l.TryAcquireLocal("b"); ok {
		t.Fatal("try over a local app succeeded")
	}
	l.ReleaseLocal("a")
	l.TryAcquireRemote("")
	if ok, evs := l.TryAcquireLocal("c"); ok || evs != nil {
		t.Fatal("try displaced a remote session")
	}
	is(t, l, messages.LockRemote, "remote")
}

func TestDoubleLocalAcquireRaises(t *testing.T) {
	l := New()
	_, _ = l.AcquireLocalEvicting("first")
	_, err := l.AcquireLocalEvicting("second")
	if err == nil || err.Error() != "A local app is already running: 'first'" {
		t.Fatalf("%v", err)
	}
	if _, err := l.AcquireLocalKeeping("third"); err == nil {
		t.Fatal("keeping acquire over a local app succeeded")
	}
	is(t, l, messages.LockLocal, "first")
}

func TestReleasesAreIdempotentAndNoOpsInTheWrongState(t *testing.T) {
	l := New()
	if _, evs := l.ReleaseLocal("x"); evs != nil {
		t.Fatal("release of a free lock fired")
	}
	if evs := l.ReleaseRemote(true); evs != nil {
		t.Fatal("remote release of a free lock fired")
	}
	_, _ = l.AcquireLocalEvicting("a")
	if evs := l.ReleaseRemote(false); evs != nil {
		t.Fatal("remote release of a local hold fired")
	}
	is(t, l, messages.LockLocal, "a")
	l.ReleaseLocal("a")
	if _, evs := l.ReleaseLocal("a"); evs != nil {
		t.Fatal("second release fired")
	}
	l.TryAcquireRemote("")
	if _, evs := l.ReleaseLocal("a"); evs != nil {
		t.Fatal("local release of a remote hold fired")
	}
	is(t, l, messages.LockRemote, "remote")
}

func TestHolderMismatchStillReleases(t *testing.T) {
	l := New()
	_, _ = l.AcquireLocalEvicting("new")
	mismatch, evs := l.ReleaseLocal("old")
	if !mismatch || len(evs) != 1 {
		t.Fatalf("mismatch %v events %v", mismatch, evs)
	}
	is(t, l, messages.LockFree, "")
}

func TestRemoteAcquireOnlyFromFree(t *testing.T) {
	l := New()
	ok, evs := l.TryAcquireRemote("")
	if !ok || len(evs) != 1 || evs[0].Kind != messages.LockRemoteAcquired {
		t.Fatalf("%v %v", ok, evs)
	}
	if ok, evs := l.TryAcquireRemote(""); ok || evs != nil {
		t.Fatal("second remote acquire succeeded or fired")
	}
	l.ReleaseRemote(false)
	_, _ = l.AcquireLocalEvicting("app")
	if ok, evs := l.TryAcquireRemote(""); ok || evs != nil {
		t.Fatal("remote acquire over a local app")
	}
}

func TestEvictionOnceNotFromFreeAndWithoutFreeEvent(t *testing.T) {
	l := New()
	evs, _ := l.AcquireLocalEvicting("a")
	if got := kinds(evs); len(got) != 1 || got[0] != messages.LockLocalAcquired {
		t.Fatalf("from free: %v", got)
	}
	l.ReleaseLocal("a")
	l.TryAcquireRemote("")
	evs, err := l.AcquireLocalEvicting("b")
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(evs)
	if len(got) != 2 || got[0] != messages.LockRemoteEvicted || got[1] != messages.LockLocalAcquired {
		t.Fatalf("eviction events %v (no became_free expected)", got)
	}
	if evs[0].Holder != "remote" {
		t.Fatalf("evicted holder %q", evs[0].Holder)
	}
	is(t, l, messages.LockLocal, "b")
}

func TestKeepRemoteDoesNotEvictAndWorksFromFree(t *testing.T) {
	l := New()
	l.TryAcquireRemote("")
	evs, err := l.AcquireLocalKeeping("conv")
	if err != nil || len(evs) != 1 || evs[0].Kind != messages.LockLocalAcquired {
		t.Fatalf("%v %v", evs, err)
	}
	is(t, l, messages.LockLocal, "conv")
	l.ReleaseLocal("conv")
	if _, err := l.AcquireLocalKeeping("x"); err != nil {
		t.Fatal("keeping acquire from free failed")
	}
}

func TestFreeEventCarriesHandoffAndFiresOnce(t *testing.T) {
	l := New()
	l.TryAcquireRemote("")
	evs := l.ReleaseRemote(true)
	if len(evs) != 1 || evs[0].Kind != messages.LockBecameFree || !evs[0].Handoff {
		t.Fatalf("%v", evs)
	}
	// The event is produced after the transition: the state is free.
	is(t, l, messages.LockFree, "")
	l.TryAcquireRemote("")
	if evs := l.ReleaseRemote(false); evs[0].Handoff {
		t.Fatal("a dropped session reported a handoff")
	}
}
