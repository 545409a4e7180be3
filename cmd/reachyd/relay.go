package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"reachyd/actors/daemon"
	"reachyd/actors/kit"
	"reachyd/actors/relay"
	"reachyd/actors/system"
	"reachyd/hw"
	"reachyd/messages"
)

// defaultCentralURL is --central-url's default: $REACHY_CENTRAL_URL, else
// the reference's central server.
func defaultCentralURL() string {
	if u := os.Getenv("REACHY_CENTRAL_URL"); u != "" {
		return u
	}
	return relay.DefaultCentralURL
}

// validateCentralURL accepts an http(s) URL with a host and nothing that
// would put a secret in the URL (user info, query).
func validateCentralURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--central-url must be an http(s) URL with a host and no user info or query, got %q", v)
	}
	return nil
}

// relayName is the robot's name as the relay sends it: the flag's, then
// the saved one, then every rename.
type relayName struct{ v atomic.Pointer[string] }

func (n *relayName) get() string { return *n.v.Load() }

// follow reads the daemon's saved name and keeps up with renames (the
// reference sends a new name at the next heartbeat).
func (n *relayName) follow(sys *system.System) {
	kit.Subscribe(sys.Kit, func(e messages.RobotNameChanged) { n.v.Store(&e.Name) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if r, err := kit.Ask[messages.RobotName](ctx, sys.Kit, sys.Daemon, &messages.GetRobotName{}); err == nil && r.Name != "" {
		n.v.CompareAndSwap(n.v.Load(), &r.Name)
	}
}

// relayConfig is the central relay's configuration: it runs with media
// (the reference starts it only with a media server), signed in with the
// Hugging Face token (HF_TOKEN, else huggingface_hub's token file), and
// waits for a token when there is none.
func relayConfig(o *Options, log *slog.Logger, media bool) (*system.RelayConfig, *relayName) {
	name := &relayName{}
	name.v.Store(&o.RobotName)
	if !media || !o.Relay {
		return nil, name
	}
	transport := "usb"
	if o.WirelessVersion {
		transport = "wifi"
	}
	tokenPath := daemon.HFTokenPath()
	log.Info("central relay", "central", o.CentralURL, "transport", transport)
	return &system.RelayConfig{Options: relay.Options{
		CentralURL: o.CentralURL,
		Token:      func() string { return hfToken(tokenPath) },
		RobotName:  name.get,
		Transport:  transport,
		HardwareID: hw.HardwareID(),
		AutoStart:  true,
	}}, name
}
