package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"reachyd/actors/kit"
	"reachyd/actors/system"
	"reachyd/discovery"
	"reachyd/hw"
	"reachyd/messages"
)

// startMDNS advertises the API as the reference does (_reachy-mini._tcp,
// instance = robot name, its TXT records) on the interfaces the API
// listens on, and re-advertises on each rename. It returns the function
// that says goodbye and stops. Nothing here stops the daemon: a responder
// that cannot start is logged and left out.
func startMDNS(o *Options, log *slog.Logger, sys *system.System, api net.Addr) (stop func()) {
	noop := func() {}
	log = log.With("component", "mdns")
	if o.NoMDNS {
		log.Info("mDNS: off (--no-mdns)")
		return noop
	}
	b, err := discovery.ParseBinding(o.Host, o.MDNSInterfaces)
	if err != nil { // a host name: advertise where it resolves
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ips, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip4", o.Host)
		cancel()
		if lerr != nil || len(ips) == 0 {
			log.Warn("mDNS: off: cannot resolve the bind host to an IPv4 address", "host", o.Host, "err", lerr)
			return noop
		}
		b, _ = discovery.ParseBinding(ips[0].Unmap().String(), o.MDNSInterfaces)
	}
	if b.Loopback() {
		log.Info("mDNS: not advertised: the API listens on loopback only (--fastapi-host 0.0.0.0 or --mdns-interface to advertise)")
		return noop
	}
	port := 0
	if ta, ok := api.(*net.TCPAddr); ok {
		port = ta.Port
	}
	// Subscribe before reading the name: a rename in between is then
	// either in the name read or in an event.
	var (
		mu      sync.Mutex
		resp    *discovery.Responder
		pending string
	)
	unsub := kit.Subscribe(sys.Kit, func(e messages.RobotNameChanged) {
		mu.Lock()
		defer mu.Unlock()
		if resp != nil {
			resp.Rename(e.Name) // never blocks
		} else {
			pending = e.Name
		}
	})
	name := o.RobotName
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	if n, err := kit.Ask[messages.RobotName](ctx, sys.Kit, sys.Daemon, &messages.GetRobotName{}); err == nil && n.Name != "" {
		name = n.Name
	}
	cancel()
	hostname, _ := os.Hostname()
	r, err := discovery.Start(discovery.Config{
		Info: discovery.Info{RobotName: name, Host: hostname, Port: uint16(port), Version: APIVersion,
			Wireless: o.WirelessVersion, UnitID: hw.HardwareID()},
		Binding: b,
		Log:     log,
	})
	if err != nil {
		unsub()
		log.Warn("mDNS: off: cannot open the mDNS socket (UDP 5353)", "err", err)
		return noop
	}
	mu.Lock()
	resp = r
	if pending != "" {
		r.Rename(pending)
	}
	mu.Unlock()
	return func() {
		unsub()
		r.Close()
	}
}

// wlanIP is the status's wlan_ip source. The daemon reports it with
// --wireless-version only, as the reference (a Lite's daemon on a laptop
// with Wi-Fi reports none, so the SDK reaches its WebRTC server on
// localhost), and never reads it otherwise.
func wlanIP() func() string {
	return (&discovery.WlanIP{}).Get
}
