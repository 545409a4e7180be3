package main

import (
	"log/slog"

	"reachyd/actors/system"
	"reachyd/hw"
	"reachyd/wifi"
)

// wifiConfig configures the Wi-Fi actor of the Wireless robot's daemon
// (--wireless-version, unless --no-wifi), with its start-up check, which
// brings the hotspot up when no network is; nil otherwise, and the /wifi
// routes are not served, as in the reference without --wireless-version.
func wifiConfig(o *Options, log *slog.Logger) *system.WifiConfig {
	if !o.WirelessVersion || !o.Wifi {
		return nil
	}
	return &system.WifiConfig{
		Manager: wifi.Options{BusAddress: o.WifiBus, Interface: o.WifiInterface, PIN: hw.DevicePIN(), Log: log},
		Startup: true,
	}
}
