// Package wifi manages the Wireless robot's Wi-Fi through NetworkManager's
// D-Bus API, as the reference daemon's routers/wifi_config.py does through
// nmcli: the status (hotspot, wlan, disconnected or busy; the saved
// networks; the connected one), a scan, joining a network with a fall back
// to the robot's own hotspot when that fails, forgetting networks (never
// the hotspot profile), and the sealed-credentials exchange that lets a
// phone send the Wi-Fi password encrypted (seal.go).
//
// One operation at a time, as in the reference: an operation that changes
// the network (connect, setup_hotspot, forget, forget_all, the start-up
// check) runs in the background and holds the Manager until it ends;
// another one asked meanwhile fails with ErrBusy (the reference's 409),
// and the status says "busy". Status and scans do not wait for it. The
// last failure of a background operation is kept for GET /wifi/error.
// The slot, the last failure, the provisioning keys and the running
// operation live in a State, which may outlive the Manager (one bus
// connection): the Wi-Fi actor (actors/wifi) opens a new Manager on the
// same State after a crash, and the operation that was running goes on
// holding the slot (state.go).
//
// NetworkManager is reached over D-Bus (github.com/godbus/dbus/v5): the
// system bus, or any bus address (tests). Every call has a deadline, an
// activation is waited for through the active connection's StateChanged
// signal (with a poll as a fallback), and the bus is dialled on first use
// and again after it is lost, so reachyd starts and answers with or
// without NetworkManager.
//
// Profiles and settings follow nmcli, which the reference uses: the hotspot
// is the profile named "Hotspot" that "nmcli device wifi hotspot" creates
// (access-point mode, WPA2-PSK with CCMP, IPv4 shared, IPv6 ignored, no
// autoconnect); a network is joined as "nmcli device wifi connect" joins
// it (a profile named after the SSID, added and activated through the
// access point found by a fresh scan, with the key only when the access
// point wants one, NetworkManager completing the key management).
//
// Tested against a fake NetworkManager (wifi/wifitest) that exports the
// objects, methods, properties and signals used here on a private
// dbus-daemon bus, and with a phone-side sealing client written from the
// reference's description; not against a real NetworkManager.
package wifi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// The robot's hotspot, as the reference sets it up.
const (
	// HotspotName is the hotspot profile's name (nmcli's default for
	// "device wifi hotspot"); it is never forgotten.
	HotspotName = "Hotspot"
	// HotspotSSID and HotspotPassword are the hotspot's defaults.
	HotspotSSID     = "reachy-mini-ap"
	HotspotPassword = "reachy-mini"
)

// Mode is the Wi-Fi mode in GET /wifi/status.
type Mode string

// The modes.
const (
	ModeHotspot      Mode = "hotspot"
	ModeWLAN         Mode = "wlan"
	ModeDisconnected Mode = "disconnected"
	ModeBusy         Mode = "busy"
)

// Status is GET /wifi/status.
type Status struct {
	Mode Mode
	// KnownNetworks are the saved Wi-Fi profiles but the hotspot, active
	// ones first, then by name.
	KnownNetworks []string
	// ConnectedNetwork is the first active profile (the hotspot's name in
	// hotspot mode); "" when none.
	ConnectedNetwork string
}

// Errors of the synchronous part of the operations (the routes' 409, 400,
// 404 and 503).
var (
	ErrBusy          = errors.New("Another operation is in progress.")
	ErrForgetHotspot = errors.New("Cannot forget Hotspot connection.")
	// ErrUnavailable wraps a failure to reach NetworkManager.
	ErrUnavailable = errors.New("NetworkManager is not reachable")
)

// UnknownNetworkError is a forget of a network that is not saved.
type UnknownNetworkError struct{ SSID string }

func (e *UnknownNetworkError) Error() string {
	return fmt.Sprintf("Network '%s' not found in saved networks.", e.SSID)
}

// Options configure a Manager. Zero values take the defaults.
type Options struct {
	// BusAddress is the D-Bus address of NetworkManager's bus ("": the
	// system bus).
	BusAddress string
	// Interface is the Wi-Fi interface ("": the first Wi-Fi device).
	Interface string
	// PIN is the device PIN mixed into the sealed exchange's key
	// derivation (hw.DevicePIN).
	PIN string
	Log *slog.Logger
	// CallTimeout bounds each D-Bus call (default 10 s).
	CallTimeout time.Duration
	// ActivateTimeout bounds an activation (default 90 s, nmcli's for a
	// connect; 60 s is its default for a hotspot).
	ActivateTimeout time.Duration
	// ScanWait bounds the wait for a requested scan (default 10 s).
	ScanWait time.Duration
	// Attempts is how many scans a connect tries to find its SSID, and
	// how many times the start-up check runs before giving up (default 3
	// and 5, as in the reference); RetryDelay is the pause between them
	// (default 3 s).
	Attempts        int
	StartupAttempts int
	RetryDelay      time.Duration
	// Now is the provisioning keys' clock (default time.Now); unused when
	// State is set (the State has its own).
	Now func() time.Time
	// State, when set, is the operation slot, last error, keys and
	// operations shared with the Managers before and after this one (see
	// State); nil makes one that this Manager owns and closes.
	State *State
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.ActivateTimeout <= 0 {
		o.ActivateTimeout = 90 * time.Second
	}
	if o.ScanWait <= 0 {
		o.ScanWait = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.StartupAttempts <= 0 {
		o.StartupAttempts = 5
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = 3 * time.Second
	}
}

// Manager runs the Wi-Fi operations over one connection to
// NetworkManager. Its methods are safe for concurrent use.
type Manager struct {
	opts Options
	log  *slog.Logger
	nm   *nmClient
	st   *State
	// ownState: the State is this Manager's, closed with it.
	ownState bool

	// users counts the calls and operations using nm; once closed, the
	// last one to end closes the bus connection.
	mu     sync.Mutex
	users  int
	closed bool
}

// errClosed is a call on a closed Manager.
var errClosed = fmt.Errorf("%w: the Wi-Fi manager is closed", ErrUnavailable)

// New makes a Manager. It does not reach NetworkManager until asked to.
func New(opts Options) *Manager {
	opts.defaults()
	st, own := opts.State, false
	if st == nil {
		st, own = NewState(opts.Now), true
	}
	return &Manager{
		opts: opts, log: opts.Log.With("component", "wifi"),
		nm: &nmClient{addr: opts.BusAddress, iface: opts.Interface, timeout: opts.CallTimeout},
		st: st, ownState: own,
	}
}

// Close closes the Manager: it takes no more calls, and its bus connection
// is closed as soon as nothing uses it. With a State of its own, the
// running operation is cancelled (NetworkManager goes on with what it was
// asked) and waited for. With a shared State (Options.State), Close
// returns at once and an operation still running goes on to its end, on
// this Manager's connection, holding the State's slot; State.Close ends it.
// A nil Manager is fine.
func (m *Manager) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.closed = true
	idle := m.users == 0
	m.mu.Unlock()
	if m.ownState {
		m.st.Close()
	}
	if idle { // else the last user closes it
		m.nm.close()
	}
}

// acquire counts a user of the bus connection; it fails once the Manager
// is closed.
func (m *Manager) acquire() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed
	}
	m.users++
	return nil
}

// release ends a use, and closes the connection after the last one once
// the Manager is closed.
func (m *Manager) release() {
	m.mu.Lock()
	m.users--
	last := m.closed && m.users == 0
	m.mu.Unlock()
	if last {
		m.nm.close()
	}
}

// begin takes the State's operation slot and counts the operation as a
// user of the connection.
func (m *Manager) begin() error {
	if err := m.acquire(); err != nil {
		return err
	}
	if err := m.st.begin(); err != nil {
		m.release()
		return err
	}
	return nil
}

// abort gives back what begin took, for an operation that does not start.
func (m *Manager) abort() {
	m.release()
	m.st.end()
}

// Busy reports whether an operation runs (on this Manager or another one
// sharing its State).
func (m *Manager) Busy() bool { return m.st.Busy() }

// run runs op in the background in the slot taken by begin, and frees it
// when op ends. A panic in op is logged and recorded as the last error
// rather than taking the daemon down.
func (m *Manager) run(name string, op func(ctx context.Context)) {
	go func() {
		defer m.abort()
		defer func() {
			if r := recover(); r != nil {
				m.log.Error("wifi operation panicked", "op", name, "panic", r)
				m.setError(fmt.Sprintf("internal error in %s", name))
			}
		}()
		op(m.st.ctx)
	}()
}

// LastError returns the last background failure; ok is false when there
// is none.
func (m *Manager) LastError() (text string, ok bool) { return m.st.LastError() }

// ResetError forgets the last failure.
func (m *Manager) ResetError() { m.st.ResetError() }

func (m *Manager) setError(text string) { m.st.setError(text) }

func unavailable(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// Status reads the Wi-Fi status.
func (m *Manager) Status(ctx context.Context) (Status, error) {
	if err := m.acquire(); err != nil {
		return Status{}, err
	}
	defer m.release()
	busy := m.Busy()
	ps, err := m.nm.profiles(ctx)
	if err != nil {
		return Status{}, unavailable(err)
	}
	st := Status{Mode: modeOf(ps), KnownNetworks: []string{}}
	if busy {
		st.Mode = ModeBusy
	}
	for _, p := range ps {
		if p.id != HotspotName {
			st.KnownNetworks = append(st.KnownNetworks, p.id)
		}
		if p.active() && st.ConnectedNetwork == "" {
			st.ConnectedNetwork = p.id
		}
	}
	return st, nil
}

// modeOf is the mode NetworkManager's profiles show: the hotspot's, or a
// network's, or none.
func modeOf(ps []profile) Mode {
	mode := ModeDisconnected
	for _, p := range ps {
		switch {
		case p.active() && p.id == HotspotName:
			return ModeHotspot
		case p.active():
			mode = ModeWLAN
		}
	}
	return mode
}

// Scan asks for a fresh scan and lists the SSIDs in range, strongest
// first, each once; hidden networks (no SSID) are left out. As in the
// reference it does not take the operation slot.
func (m *Manager) Scan(ctx context.Context) ([]string, error) {
	if err := m.acquire(); err != nil {
		return nil, err
	}
	defer m.release()
	dev, err := m.nm.wifiDevice(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	aps, err := m.nm.scan(ctx, dev, m.opts.ScanWait)
	if err != nil {
		return nil, unavailable(err)
	}
	sort.SliceStable(aps, func(i, j int) bool { return aps[i].strength > aps[j].strength })
	seen := map[string]bool{}
	out := []string{}
	for _, ap := range aps {
		if ap.ssid == "" || seen[ap.ssid] {
			continue
		}
		seen[ap.ssid] = true
		out = append(out, ap.ssid)
	}
	return out, nil
}

// Connect joins the network ssid in the background; on failure it records
// the error, deletes the network's profile and brings the hotspot up.
func (m *Manager) Connect(ssid, password string) error {
	if err := m.begin(); err != nil {
		return err
	}
	m.log.Info("connecting to a Wi-Fi network", "ssid", ssid)
	m.run("connect", func(ctx context.Context) { m.connect(ctx, ssid, password) })
	return nil
}

// ProvKey returns the current provisioning public key (GET /wifi/prov_key).
func (m *Manager) ProvKey() (ProvKey, error) { return m.st.keys.public() }

// ConnectSealed opens a sealed password and joins its network as Connect
// does. A busy Manager answers ErrBusy before anything is decrypted; a
// payload that cannot be opened is a *SealError.
func (m *Manager) ConnectSealed(s Sealed) error {
	if err := m.begin(); err != nil {
		return err
	}
	password, err := m.st.keys.open(s, m.opts.PIN)
	if err != nil {
		m.abort()
		return err
	}
	m.log.Info("connecting to a Wi-Fi network (sealed password)", "ssid", s.SSID)
	m.run("connect_sealed", func(ctx context.Context) { m.connect(ctx, s.SSID, password) })
	return nil
}

func (m *Manager) connect(ctx context.Context, ssid, password string) {
	m.setError("")
	err := m.join(ctx, ssid, password)
	if err == nil {
		m.log.Info("joined the Wi-Fi network", "ssid", ssid)
		return
	}
	if ctx.Err() != nil {
		return // closing
	}
	m.log.Error("could not join the Wi-Fi network; falling back to the hotspot", "ssid", ssid, "err", err)
	text := err.Error()
	if derr := m.forgetProfiles(ctx, func(id string) bool { return id == ssid && id != HotspotName }); derr != nil {
		m.log.Warn("could not delete the failed network's profile", "ssid", ssid, "err", derr)
	}
	if herr := m.hotspot(ctx, HotspotSSID, HotspotPassword); herr != nil {
		m.log.Error("could not bring the hotspot up", "err", herr)
		text += "; the hotspot fallback failed too: " + herr.Error()
	}
	m.setError(text)
}

// join brings the network ssid up: its saved profile if there is one (as
// is, as the reference does), else a new profile through the access point
// a fresh scan finds (rescanning a few times: after the robot served its
// own hotspot, the scan list is stale).
func (m *Manager) join(ctx context.Context, ssid, password string) error {
	if ssid == "" || len(ssid) > MaxSSIDLen {
		return fmt.Errorf("Invalid SSID: it must have 1 to %d bytes.", MaxSSIDLen)
	}
	if len(password) > maxPSKLen {
		return fmt.Errorf("Invalid password: it must have at most %d characters.", maxPSKLen)
	}
	ps, err := m.nm.profiles(ctx)
	if err != nil {
		return err
	}
	dev, err := m.nm.wifiDevice(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		if p.id != ssid {
			continue
		}
		if p.active() {
			return nil
		}
		return m.activate(ctx, func(ctx context.Context) (dbus.ObjectPath, error) { return m.nm.activate(ctx, p.path, dev) }, m.opts.ActivateTimeout)
	}
	var ap *accessPoint
	for attempt := 1; attempt <= m.opts.Attempts && ap == nil; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, m.opts.RetryDelay); err != nil {
				return err
			}
		}
		aps, err := m.nm.scan(ctx, dev, m.opts.ScanWait)
		if err != nil {
			return err
		}
		for i := range aps {
			if aps[i].ssid == ssid && (ap == nil || aps[i].strength > ap.strength) {
				ap = &aps[i]
			}
		}
		if ap == nil {
			m.log.Warn("SSID not in the scan yet", "ssid", ssid, "attempt", attempt, "of", m.opts.Attempts)
		}
	}
	if ap == nil {
		return fmt.Errorf("No network with SSID '%s' found.", ssid)
	}
	s := settings{
		"connection":      {"id": dbus.MakeVariant(ssid), "type": dbus.MakeVariant(wifiType)},
		"802-11-wireless": {"ssid": dbus.MakeVariant([]byte(ssid)), "mode": dbus.MakeVariant("infrastructure")},
	}
	if ap.private && password != "" {
		s["802-11-wireless-security"] = map[string]dbus.Variant{"psk": dbus.MakeVariant(password)}
	}
	return m.activate(ctx, func(ctx context.Context) (dbus.ObjectPath, error) { return m.nm.addAndActivate(ctx, s, dev, ap.path) }, m.opts.ActivateTimeout)
}

// activate starts an activation and waits for it.
func (m *Manager) activate(ctx context.Context, start func(context.Context) (dbus.ObjectPath, error), timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := m.nm.activation(ctx, start)
	if errors.Is(err, context.DeadlineExceeded) && m.st.ctx.Err() == nil {
		return fmt.Errorf("Connection activation failed: not activated within %v", timeout)
	}
	return err
}

// SetupHotspot brings the hotspot up in the background: the saved
// "Hotspot" profile if there is one (as it is: ssid and password only
// apply when it is created, as in the reference), else a new one.
func (m *Manager) SetupHotspot(ssid, password string) error {
	if err := m.begin(); err != nil {
		return err
	}
	m.run("setup_hotspot", func(ctx context.Context) {
		if err := m.hotspot(ctx, ssid, password); err != nil && ctx.Err() == nil {
			m.log.Error("could not bring the hotspot up", "err", err)
			m.setError(err.Error())
		}
	})
	return nil
}

// hotspot brings the hotspot profile up, creating it with ssid and
// password if it does not exist.
func (m *Manager) hotspot(ctx context.Context, ssid, password string) error {
	ps, err := m.nm.profiles(ctx)
	if err != nil {
		return err
	}
	dev, err := m.nm.wifiDevice(ctx)
	if err != nil {
		return err
	}
	timeout := min(m.opts.ActivateTimeout, 60*time.Second)
	for _, p := range ps {
		if p.id != HotspotName {
			continue
		}
		if p.active() {
			return nil
		}
		m.log.Info("activating the hotspot")
		return m.activate(ctx, func(ctx context.Context) (dbus.ObjectPath, error) { return m.nm.activate(ctx, p.path, dev) }, timeout)
	}
	if ssid == "" || len(ssid) > MaxSSIDLen {
		return fmt.Errorf("Invalid hotspot SSID: it must have 1 to %d bytes.", MaxSSIDLen)
	}
	if !validPSK(password) {
		return errors.New("Invalid hotspot password: a WPA passphrase has 8 to 63 ASCII characters (or 64 hex digits).")
	}
	m.log.Info("creating the hotspot", "ssid", ssid)
	s := settings{
		"connection":      {"id": dbus.MakeVariant(HotspotName), "type": dbus.MakeVariant(wifiType), "autoconnect": dbus.MakeVariant(false)},
		"802-11-wireless": {"ssid": dbus.MakeVariant([]byte(ssid)), "mode": dbus.MakeVariant("ap")},
		"802-11-wireless-security": {
			"key-mgmt": dbus.MakeVariant("wpa-psk"), "psk": dbus.MakeVariant(password),
			"proto": dbus.MakeVariant([]string{"rsn"}), "pairwise": dbus.MakeVariant([]string{"ccmp"}), "group": dbus.MakeVariant([]string{"ccmp"}),
		},
		"ipv4": {"method": dbus.MakeVariant("shared")},
		"ipv6": {"method": dbus.MakeVariant("ignore")},
	}
	return m.activate(ctx, func(ctx context.Context) (dbus.ObjectPath, error) { return m.nm.addAndActivate(ctx, s, dev, "/") }, timeout)
}

// validPSK is NetworkManager's nm_utils_wpa_psk_valid: 8 to 63 printable
// ASCII characters, or 64 hex digits.
func validPSK(p string) bool {
	if len(p) == 64 {
		return strings.Trim(p, "0123456789abcdefABCDEF") == ""
	}
	if len(p) < 8 || len(p) > 63 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] > 0x7e {
			return false
		}
	}
	return true
}

// Forget deletes the saved network ssid in the background, and brings the
// hotspot up if it was the active one. The hotspot cannot be forgotten
// (ErrForgetHotspot) and an unknown network is an *UnknownNetworkError;
// both are checked before the busy state, as in the reference.
func (m *Manager) Forget(ctx context.Context, ssid string) error {
	if ssid == HotspotName {
		return ErrForgetHotspot
	}
	if err := m.acquire(); err != nil {
		return err
	}
	defer m.release()
	ps, err := m.nm.profiles(ctx)
	if err != nil {
		return unavailable(err)
	}
	found := false
	for _, p := range ps {
		found = found || p.id == ssid
	}
	if !found {
		return &UnknownNetworkError{SSID: ssid}
	}
	if err := m.begin(); err != nil {
		return err
	}
	m.run("forget", func(ctx context.Context) {
		m.setError("")
		wasActive := false
		err := m.forgetProfiles(ctx, func(id string) bool { return id == ssid })
		for _, p := range ps {
			wasActive = wasActive || (p.id == ssid && p.active())
		}
		if err == nil && wasActive {
			m.log.Info("the forgotten network was the active one; falling back to the hotspot")
			err = m.hotspot(ctx, HotspotSSID, HotspotPassword)
		}
		if err != nil && ctx.Err() == nil {
			m.log.Error("could not forget the network", "ssid", ssid, "err", err)
			m.setError(fmt.Sprintf("Failed to forget network '%s': %v", ssid, err))
		}
	})
	return nil
}

// ForgetAll deletes every saved network but the hotspot in the background,
// then brings the hotspot up if nothing is active any more.
//
// The reference means to, but checks the mode while it holds its busy lock,
// which always reads "busy", so it never does; reachyd reads
// NetworkManager's own state.
func (m *Manager) ForgetAll() error {
	if err := m.begin(); err != nil {
		return err
	}
	m.run("forget_all", func(ctx context.Context) {
		m.setError("")
		err := m.forgetProfiles(ctx, func(id string) bool { return id != HotspotName })
		if err == nil {
			var ps []profile
			if ps, err = m.nm.profiles(ctx); err == nil && modeOf(ps) == ModeDisconnected {
				m.log.Info("no connection left; bringing the hotspot up")
				err = m.hotspot(ctx, HotspotSSID, HotspotPassword)
			}
		}
		if err != nil && ctx.Err() == nil {
			m.log.Error("could not forget the networks", "err", err)
			m.setError(fmt.Sprintf("Failed to forget networks: %v", err))
		}
	})
	return nil
}

// forgetProfiles deletes the Wi-Fi profiles whose name match says.
func (m *Manager) forgetProfiles(ctx context.Context, match func(id string) bool) error {
	ps, err := m.nm.profiles(ctx)
	if err != nil {
		return err
	}
	var forgotten []string
	for _, p := range ps {
		if !match(p.id) {
			continue
		}
		if err := m.nm.remove(ctx, p.path); err != nil {
			return err
		}
		forgotten = append(forgotten, p.id)
	}
	if len(forgotten) > 0 {
		m.log.Info("forgot Wi-Fi networks", "networks", forgotten)
	}
	return nil
}

// Startup checks the Wi-Fi in the background, as the reference does when
// it starts: a scan (which also tells whether the device answers), then the
// hotspot when no connection is active, retried while NetworkManager or
// the device is not ready; after the last attempt the daemon goes on
// without (reachable over Bluetooth or Ethernet for recovery).
func (m *Manager) Startup() {
	if err := m.begin(); err != nil {
		return
	}
	m.run("startup", func(ctx context.Context) {
		var err error
		for attempt := 1; attempt <= m.opts.StartupAttempts; attempt++ {
			if attempt > 1 {
				if sleep(ctx, m.opts.RetryDelay) != nil {
					return
				}
			}
			if err = m.startupCheck(ctx); err == nil || ctx.Err() != nil {
				return
			}
			m.log.Warn("Wi-Fi start-up check failed", "attempt", attempt, "of", m.opts.StartupAttempts, "err", err)
		}
		m.log.Error("Wi-Fi start-up check failed; going on without Wi-Fi set up", "err", err)
	})
}

func (m *Manager) startupCheck(ctx context.Context) error {
	dev, err := m.nm.wifiDevice(ctx)
	if err != nil {
		return err
	}
	if _, err := m.nm.scan(ctx, dev, m.opts.ScanWait); err != nil {
		return err
	}
	ps, err := m.nm.profiles(ctx)
	if err != nil {
		return err
	}
	if modeOf(ps) != ModeDisconnected {
		return nil
	}
	m.log.Info("no Wi-Fi connection active; bringing the hotspot up")
	return m.hotspot(ctx, HotspotSSID, HotspotPassword)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
