package wifi

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// NetworkManager's D-Bus names (the documented API, networkmanager.dev/docs/api).
const (
	nmDest        = "org.freedesktop.NetworkManager"
	nmPath        = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	nmIface       = "org.freedesktop.NetworkManager"
	settingsPath  = dbus.ObjectPath("/org/freedesktop/NetworkManager/Settings")
	settingsIface = nmIface + ".Settings"
	profileIface  = settingsIface + ".Connection"
	deviceIface   = nmIface + ".Device"
	wirelessIface = deviceIface + ".Wireless"
	apIface       = nmIface + ".AccessPoint"
	activeIface   = nmIface + ".Connection.Active"
	propsIface    = "org.freedesktop.DBus.Properties"

	// deviceTypeWifi is NM_DEVICE_TYPE_WIFI.
	deviceTypeWifi = 2
	// wifiType is the connection.type of a Wi-Fi profile (nmcli's "wifi").
	wifiType = "802-11-wireless"
	// apFlagPrivacy is NM_802_11_AP_FLAGS_PRIVACY: the access point wants
	// a key.
	apFlagPrivacy = 0x1
)

// Active connection states (NMActiveConnectionState).
const (
	activeActivating   = 1
	activeActivated    = 2
	activeDeactivating = 3
	activeDeactivated  = 4
)

// Limits on what NetworkManager hands back: a robot has a handful of
// profiles and a few dozen access points in range; more than this is a
// misbehaving peer, and the rest is ignored.
const (
	maxProfiles = 256
	maxAPs      = 256
	maxDevices  = 64
)

// settings is a connection's settings as NetworkManager's D-Bus API
// carries them (a{sa{sv}}).
type settings = map[string]map[string]dbus.Variant

// profile is a saved Wi-Fi connection profile (a Settings.Connection).
type profile struct {
	path dbus.ObjectPath
	id   string
	// state is its active connection's state (0: not active).
	state uint32
}

// active reports whether the profile is up on a device, or coming up:
// nmcli shows a DEVICE for it then, which is what the reference tests.
func (p profile) active() bool {
	return p.state == activeActivating || p.state == activeActivated
}

// accessPoint is one access point of the last scan.
type accessPoint struct {
	path     dbus.ObjectPath
	ssid     string
	strength uint8
	private  bool
}

// nmClient talks to NetworkManager over D-Bus. It dials on first use and
// again after the bus connection is lost, so the daemon starts whether or
// not NetworkManager (or the bus) is up, and recovers when they come back.
// Every call has a deadline.
type nmClient struct {
	addr    string // "" is the system bus
	iface   string // "" is the first Wi-Fi device
	timeout time.Duration

	mu     sync.Mutex
	conn   *dbus.Conn
	cancel context.CancelFunc // ends conn
}

// errNoWifiDevice: NetworkManager has no Wi-Fi device (or not the one
// configured).
var errNoWifiDevice = errors.New("no Wi-Fi device found")

// bus returns a connected bus, dialling it if needed.
func (c *nmClient) bus(ctx context.Context) (*dbus.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil && c.conn.Connected() {
		return c.conn, nil
	}
	if c.cancel != nil {
		c.cancel()
		c.conn, c.cancel = nil, nil
	}
	// The connection lives until Close: its context must not be the
	// caller's. The dial itself is bounded by the call timeout; when it
	// runs out, cancelling the connection's context closes the socket,
	// which ends the authentication or Hello it is stuck in.
	life, cancel := context.WithCancel(context.Background())
	type dialed struct {
		conn *dbus.Conn
		err  error
	}
	done := make(chan dialed, 1)
	go func() {
		var d dialed
		if c.addr == "" {
			d.conn, d.err = dbus.ConnectSystemBus(dbus.WithContext(life))
		} else {
			d.conn, d.err = dbus.Connect(c.addr, dbus.WithContext(life))
		}
		done <- d
	}()
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case d := <-done:
		if d.err != nil {
			cancel()
			return nil, fmt.Errorf("connect to the D-Bus bus: %w", d.err)
		}
		c.conn, c.cancel = d.conn, cancel
		return d.conn, nil
	case <-t.C:
		cancel()
		return nil, errors.New("connect to the D-Bus bus: timed out")
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
}

// close ends the bus connection.
func (c *nmClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
	if c.conn != nil {
		_ = c.conn.Close()
	}
	c.conn, c.cancel = nil, nil
}

// call calls NetworkManager's method (interface.Member) on path, within the
// call timeout, and stores the reply in out.
func (c *nmClient) call(ctx context.Context, path dbus.ObjectPath, method string, args []any, out ...any) error {
	conn, err := c.bus(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	call := conn.Object(nmDest, path).CallWithContext(ctx, method, 0, args...)
	if call.Err != nil {
		if errors.Is(call.Err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: NetworkManager did not answer within %v", method, c.timeout)
		}
		return fmt.Errorf("%s: %w", method, call.Err)
	}
	if len(out) == 0 {
		return nil
	}
	if err := call.Store(out...); err != nil {
		return fmt.Errorf("%s: unexpected reply: %w", method, err)
	}
	return nil
}

// get reads one property.
func (c *nmClient) get(ctx context.Context, path dbus.ObjectPath, iface, name string, out any) error {
	var v dbus.Variant
	if err := c.call(ctx, path, propsIface+".Get", []any{iface, name}, &v); err != nil {
		return err
	}
	if err := v.Store(out); err != nil {
		return fmt.Errorf("%s.%s: unexpected type %s", iface, name, v.Signature())
	}
	return nil
}

// getAll reads every property of an interface.
func (c *nmClient) getAll(ctx context.Context, path dbus.ObjectPath, iface string) (map[string]dbus.Variant, error) {
	var m map[string]dbus.Variant
	err := c.call(ctx, path, propsIface+".GetAll", []any{iface}, &m)
	return m, err
}

// variant reads a property of type T from a GetAll map; ok is false when
// it is absent or of another type.
func variant[T any](m map[string]dbus.Variant, k string) (T, bool) {
	var zero T
	v, ok := m[k]
	if !ok {
		return zero, false
	}
	t, ok := v.Value().(T)
	return t, ok
}

// activeStates maps each settings profile that has an active connection to
// that connection's state.
func (c *nmClient) activeStates(ctx context.Context) (map[dbus.ObjectPath]uint32, error) {
	var actives []dbus.ObjectPath
	if err := c.get(ctx, nmPath, nmIface, "ActiveConnections", &actives); err != nil {
		return nil, err
	}
	out := map[dbus.ObjectPath]uint32{}
	for i, a := range actives {
		if i == maxProfiles {
			break
		}
		props, err := c.getAll(ctx, a, activeIface)
		if err != nil {
			continue // gone since the list was read
		}
		conn, _ := variant[dbus.ObjectPath](props, "Connection")
		state, _ := variant[uint32](props, "State")
		if conn != "" && stateRank(state) > stateRank(out[conn]) {
			out[conn] = state
		}
	}
	return out, nil
}

// stateRank orders the states of a profile's active connections (there
// may be two while it is brought up again): activated, then activating,
// then going down.
func stateRank(s uint32) int {
	switch s {
	case activeActivated:
		return 3
	case activeActivating:
		return 2
	case activeDeactivating:
		return 1
	}
	return 0
}

// profiles lists the saved Wi-Fi profiles, active ones first, then by name.
func (c *nmClient) profiles(ctx context.Context) ([]profile, error) {
	var paths []dbus.ObjectPath
	if err := c.call(ctx, settingsPath, settingsIface+".ListConnections", nil, &paths); err != nil {
		return nil, err
	}
	states, err := c.activeStates(ctx)
	if err != nil {
		return nil, err
	}
	var out []profile
	for i, p := range paths {
		if i == maxProfiles {
			break
		}
		var s settings
		if err := c.call(ctx, p, profileIface+".GetSettings", nil, &s); err != nil {
			continue // deleted since the list was read
		}
		typ, _ := variant[string](s["connection"], "type")
		id, _ := variant[string](s["connection"], "id")
		if typ != wifiType || id == "" {
			continue
		}
		out = append(out, profile{path: p, id: id, state: states[p]})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := out[i].active(), out[j].active(); a != b {
			return a
		}
		return out[i].id < out[j].id
	})
	return out, nil
}

// wifiDevice finds the Wi-Fi device: the configured interface, or the
// first Wi-Fi device, as nmcli picks one.
func (c *nmClient) wifiDevice(ctx context.Context) (dbus.ObjectPath, error) {
	var devs []dbus.ObjectPath
	if err := c.call(ctx, nmPath, nmIface+".GetDevices", nil, &devs); err != nil {
		return "", err
	}
	for i, d := range devs {
		if i == maxDevices {
			break
		}
		props, err := c.getAll(ctx, d, deviceIface)
		if err != nil {
			continue
		}
		typ, _ := variant[uint32](props, "DeviceType")
		name, _ := variant[string](props, "Interface")
		if typ == deviceTypeWifi && (c.iface == "" || c.iface == name) {
			return d, nil
		}
	}
	if c.iface != "" {
		return "", fmt.Errorf("%w (no Wi-Fi device %q)", errNoWifiDevice, c.iface)
	}
	return "", errNoWifiDevice
}

// scan asks the device for a fresh scan and waits (up to wait) for it to
// finish, then lists the access points. A refused scan request (one is
// running already, or the device is an access point itself) is not an
// error: the last results are listed.
func (c *nmClient) scan(ctx context.Context, dev dbus.ObjectPath, wait time.Duration) ([]accessPoint, error) {
	var before int64
	hasLastScan := c.get(ctx, dev, wirelessIface, "LastScan", &before) == nil // NetworkManager >= 1.12
	if hasLastScan {
		conn, err := c.bus(ctx)
		if err != nil {
			return nil, err
		}
		w, err := watch(ctx, conn, dbus.WithMatchObjectPath(dev), dbus.WithMatchInterface(propsIface), dbus.WithMatchMember("PropertiesChanged"))
		if err != nil {
			return nil, err
		}
		if err := c.call(ctx, dev, wirelessIface+".RequestScan", []any{map[string]dbus.Variant{}}); err == nil {
			wctx, cancel := context.WithTimeout(ctx, wait)
			_ = w.until(wctx, func() (bool, error) {
				var now int64
				err := c.get(wctx, dev, wirelessIface, "LastScan", &now)
				return err == nil && now != before, nil
			})
			cancel()
		}
		w.stop()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	} else {
		_ = c.call(ctx, dev, wirelessIface+".RequestScan", []any{map[string]dbus.Variant{}})
	}
	return c.accessPoints(ctx, dev)
}

// accessPoints lists the device's access points from its last scan.
func (c *nmClient) accessPoints(ctx context.Context, dev dbus.ObjectPath) ([]accessPoint, error) {
	var paths []dbus.ObjectPath
	if err := c.call(ctx, dev, wirelessIface+".GetAllAccessPoints", nil, &paths); err != nil {
		return nil, err
	}
	var out []accessPoint
	for i, p := range paths {
		if i == maxAPs {
			break
		}
		props, err := c.getAll(ctx, p, apIface)
		if err != nil {
			continue
		}
		ssid, _ := variant[[]byte](props, "Ssid")
		strength, _ := variant[uint8](props, "Strength")
		flags, _ := variant[uint32](props, "Flags")
		out = append(out, accessPoint{path: p, ssid: string(ssid), strength: strength, private: flags&apFlagPrivacy != 0})
	}
	return out, nil
}

// addAndActivate saves a new profile and brings it up on dev (through the
// access point ap, or "/"); it returns the active connection.
func (c *nmClient) addAndActivate(ctx context.Context, s settings, dev, ap dbus.ObjectPath) (dbus.ObjectPath, error) {
	var profilePath, active dbus.ObjectPath
	err := c.call(ctx, nmPath, nmIface+".AddAndActivateConnection", []any{s, dev, ap}, &profilePath, &active)
	return active, err
}

// activate brings a saved profile up on dev.
func (c *nmClient) activate(ctx context.Context, p, dev dbus.ObjectPath) (dbus.ObjectPath, error) {
	var active dbus.ObjectPath
	err := c.call(ctx, nmPath, nmIface+".ActivateConnection", []any{p, dev, dbus.ObjectPath("/")}, &active)
	return active, err
}

// remove deletes a saved profile.
func (c *nmClient) remove(ctx context.Context, p dbus.ObjectPath) error {
	return c.call(ctx, p, profileIface+".Delete", nil)
}

// errActivation is an activation that NetworkManager gave up on.
type errActivation struct{ reason uint32 }

func (e errActivation) Error() string {
	if e.reason == 0 {
		return "Connection activation failed: the connection was deactivated"
	}
	return fmt.Sprintf("Connection activation failed: (%d) %s", e.reason, activationReason(e.reason))
}

// activationReason describes an NMActiveConnectionStateReason.
func activationReason(r uint32) string {
	reasons := [...]string{
		0:  "Unknown reason",
		1:  "The connection was disconnected",
		2:  "Disconnected by user",
		3:  "The base network connection was interrupted",
		4:  "The VPN service stopped unexpectedly",
		5:  "The VPN service returned invalid configuration",
		6:  "The connection attempt timed out",
		7:  "The VPN service did not start in time",
		8:  "The VPN service failed to start",
		9:  "No valid secrets",
		10: "Invalid secrets",
		11: "The connection was removed",
		12: "Master connection failed",
		13: "Could not create a software link",
		14: "The device disappeared",
	}
	if int(r) < len(reasons) {
		return reasons[r]
	}
	return "Unknown"
}

// activation starts an activation with start and waits until NetworkManager
// has it activated (nil) or gives it up (errActivation, with the reason
// from the active connection's StateChanged signal), or ctx ends. It
// subscribes to the signal before starting, so that the reason of an
// activation that fails at once is not missed.
func (c *nmClient) activation(ctx context.Context, start func(context.Context) (dbus.ObjectPath, error)) error {
	conn, err := c.bus(ctx)
	if err != nil {
		return err
	}
	w, err := watch(ctx, conn, dbus.WithMatchInterface(activeIface), dbus.WithMatchMember("StateChanged"))
	if err != nil {
		return err
	}
	defer w.stop()
	reasons := map[dbus.ObjectPath]uint32{} // why each active connection went down
	w.onSignal = func(s *dbus.Signal) {
		if s.Name != activeIface+".StateChanged" || len(s.Body) != 2 || len(reasons) > maxProfiles {
			return
		}
		st, _ := s.Body[0].(uint32)
		r, _ := s.Body[1].(uint32)
		if st == activeDeactivating || st == activeDeactivated {
			reasons[s.Path] = r
		}
	}
	active, err := start(ctx)
	if err != nil {
		return err
	}
	var failed bool
	err = w.until(ctx, func() (bool, error) {
		var state uint32
		if err := c.get(ctx, active, activeIface, "State", &state); err != nil {
			var de dbus.Error
			if errors.As(err, &de) && ctx.Err() == nil {
				// The object is gone: NetworkManager removes an active
				// connection once it is deactivated.
				failed = true
				return true, nil
			}
			return false, err
		}
		switch state {
		case activeActivated:
			return true, nil
		case activeDeactivating, activeDeactivated:
			failed = true
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if failed {
		// A poll may have seen the end before the StateChanged signal,
		// sent before it, was handled: read what has arrived.
		w.drain()
		return errActivation{reason: reasons[active]}
	}
	return nil
}

// watcher re-checks a condition each time a matching signal arrives, and
// at least every pollEvery in case a signal was missed (one sent between a
// call's reply and the subscription, or a peer that sends none).
type watcher struct {
	conn     *dbus.Conn
	opts     []dbus.MatchOption
	ch       chan *dbus.Signal
	onSignal func(*dbus.Signal)
}

// pollEvery is the watcher's fallback re-check interval.
const pollEvery = 500 * time.Millisecond

func watch(ctx context.Context, conn *dbus.Conn, opts ...dbus.MatchOption) (*watcher, error) {
	w := &watcher{conn: conn, opts: opts, ch: make(chan *dbus.Signal, 16)}
	if err := conn.AddMatchSignalContext(ctx, opts...); err != nil {
		return nil, fmt.Errorf("subscribe to NetworkManager's signals: %w", err)
	}
	conn.Signal(w.ch)
	return w, nil
}

func (w *watcher) stop() {
	w.conn.RemoveSignal(w.ch)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = w.conn.RemoveMatchSignalContext(ctx, w.opts...)
}

// drain handles the signals already received.
func (w *watcher) drain() {
	for {
		select {
		case s := <-w.ch:
			if w.onSignal != nil {
				w.onSignal(s)
			}
		default:
			return
		}
	}
}

// until calls check now, then after each signal or poll tick, until it
// reports done or fails, or ctx ends.
func (w *watcher) until(ctx context.Context, check func() (bool, error)) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case s := <-w.ch:
			if w.onSignal != nil {
				w.onSignal(s)
			}
		case <-t.C:
		}
	}
}
