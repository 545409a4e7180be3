package messages

import (
	"fmt"
	"log/slog"
	"time"
)

// Messages of the Wi-Fi actor (the Wireless robot's /wifi routes). The
// commands that change the network (ConnectWifi, ConnectWifiSealed,
// SetupWifiHotspot, ForgetWifi, ForgetAllWifi) answer WifiOK as soon as
// the operation is started, as the reference's routes do; the operation
// runs in the background and its failure is read with GetWifiError. The
// errors are *Error with the reference's status and detail:
//
//   - KindConflict, ErrWifiBusy's reason: another operation runs (409);
//   - KindBadRequest: forgetting the hotspot, or a sealed payload that does
//     not open ("decrypt_failed: ...", reason "decrypt_failed") (400);
//   - KindNotFound: forgetting a network that is not saved (404);
//   - KindUnavailable, reason "wifi_unavailable": NetworkManager is not
//     reachable (503).
//
// Deadline, on the queries that wait for NetworkManager, bounds the work
// the actor does for the asker (zero: the actor's default), so that an
// asker who gave up does not keep a D-Bus call going.

// GetWifiStatus reads the Wi-Fi status. Reply: WifiStatus or *Error (503).
type GetWifiStatus struct{ Deadline time.Time }

// WifiStatus is GET /wifi/status.
type WifiStatus struct {
	// Mode is "hotspot", "wlan", "disconnected" or "busy".
	Mode string
	// KnownNetworks are the saved networks but the hotspot, active first.
	KnownNetworks []string
	// ConnectedNetwork is the active profile's name ("" when none).
	ConnectedNetwork string
}

// ScanWifi scans and lists the networks in range. Reply: WifiNetworks or
// *Error (503).
type ScanWifi struct{ Deadline time.Time }

// WifiNetworks are the SSIDs in range, strongest first, each once.
type WifiNetworks struct{ SSIDs []string }

// ConnectWifi joins a network (falling back to the hotspot when that
// fails). Reply: WifiOK or *Error (409).
type ConnectWifi struct{ SSID, Password string }

// ConnectWifiSealed joins a network with a password sealed by the phone
// (POST /wifi/connect_sealed; every field but SSID in base64). Reply:
// WifiOK or *Error (409, 400 decrypt_failed).
type ConnectWifiSealed struct{ SSID, Kid, EPK, Nonce, CT string }

// SetupWifiHotspot brings the robot's hotspot up, creating it with SSID
// and Password when it does not exist. Reply: WifiOK or *Error (409).
type SetupWifiHotspot struct{ SSID, Password string }

// ForgetWifi deletes a saved network. Reply: WifiOK or *Error (400 for the
// hotspot, 404, 409, 503).
type ForgetWifi struct {
	SSID     string
	Deadline time.Time
}

// ForgetAllWifi deletes every saved network but the hotspot. Reply: WifiOK
// or *Error (409).
type ForgetAllWifi struct{}

// GetWifiProvKey returns the current provisioning public key. Reply:
// WifiProvKey or *Error.
type GetWifiProvKey struct{}

// WifiProvKey is GET /wifi/prov_key.
type WifiProvKey struct{ Kid, PK, Alg string }

// GetWifiError returns the last failure of a background operation. Reply:
// WifiError.
type GetWifiError struct{}

// WifiError is GET /wifi/error: Set is false when there is no error.
type WifiError struct {
	Error string
	Set   bool
}

// ResetWifiError forgets the last failure. Reply: WifiOK.
type ResetWifiError struct{}

// WifiOK is the reply of a Wi-Fi command that has nothing to report.
type WifiOK struct{}

// ErrWifiBusy is the reference's 409 while a Wi-Fi operation runs.
var ErrWifiBusy = &Error{Kind: KindConflict, Detail: "Another operation is in progress.", Reason: "wifi_busy"}

// The messages that carry a password print without it: protoactor logs the
// message an actor crashed on, and dead letters.

func (m ConnectWifi) String() string {
	return fmt.Sprintf("ConnectWifi{SSID:%q Password:<redacted>}", m.SSID)
}

// LogValue implements slog.LogValuer.
func (m ConnectWifi) LogValue() slog.Value { return slog.StringValue(m.String()) }

func (m SetupWifiHotspot) String() string {
	return fmt.Sprintf("SetupWifiHotspot{SSID:%q Password:<redacted>}", m.SSID)
}

// LogValue implements slog.LogValuer.
func (m SetupWifiHotspot) LogValue() slog.Value { return slog.StringValue(m.String()) }
