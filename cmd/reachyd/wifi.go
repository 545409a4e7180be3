package main

import (
	"log/slog"

	"reachyd/hw"
	"reachyd/wifi"
)

// wifiSetup makes the Wi-Fi manager of the Wireless robot's daemon
// (--wireless-version, unless --no-wifi) and starts its start-up check,
// which brings the hotspot up when no network is; nil otherwise, and the
// /wifi routes are not served, as in the reference without
// --wireless-version.
func wifiSetup(o *Options, log *slog.Logger) *wifi.Manager {
	if !o.WirelessVersion || !o.Wifi {
		return nil
	}
	m := wifi.New(wifi.Options{BusAddress: o.WifiBus, Interface: o.WifiInterface, PIN: hw.DevicePIN(), Log: log})
	m.Startup()
	return m
}
