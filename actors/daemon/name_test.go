package daemon

import (
	"context"
	"testing"
	"time"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// TestRenamePublishesAnEvent: a rename is published on the event stream
// (the mDNS responder re-advertises on it), with the stored name, and an
// invalid name publishes nothing. wlan_ip is reported with
// WirelessVersion only.
func TestRenamePublishesAnEvent(t *testing.T) {
	s := quietSystem(t)
	events := make(chan messages.RobotNameChanged, 4)
	defer kit.Subscribe(s, func(e messages.RobotNameChanged) { events <- e })()
	pid := spawnSupervised(t, s, Props(Options{System: s, Log: quiet,
		Config: Config{RobotName: "reachy_mini", DataDir: t.TempDir(), WlanIP: func() string { return "10.0.0.2" }}}), "daemon")
	if st := answers(t, s, pid); st.WlanIP != "" {
		t.Fatalf("wlan_ip %q without WirelessVersion", st.WlanIP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := kit.Ask[messages.RobotName](ctx, s, pid, &messages.SetRobotName{Name: "   "}); err == nil {
		t.Fatal("a blank name is refused")
	}
	n, err := kit.Ask[messages.RobotName](ctx, s, pid, &messages.SetRobotName{Name: "  lab robot  "})
	if err != nil || n.Name != "lab robot" {
		t.Fatalf("rename: %v %v", n, err)
	}
	select {
	case e := <-events:
		if e.Name != "lab robot" {
			t.Fatalf("event carries %q, want the stored name", e.Name)
		}
	case <-ctx.Done():
		t.Fatal("no RobotNameChanged event")
	}
	select {
	case e := <-events:
		t.Fatalf("one rename, one event; got another: %v", e)
	default:
	}

	s2 := quietSystem(t)
	pid2 := spawnSupervised(t, s2, Props(Options{System: s2, Log: quiet,
		Config: Config{RobotName: "r", WirelessVersion: true, WlanIP: func() string { return "10.0.0.2" }}}), "daemon")
	if st := answers(t, s2, pid2); st.WlanIP != "10.0.0.2" {
		t.Fatalf("wlan_ip %q with WirelessVersion, want 10.0.0.2", st.WlanIP)
	}
}
