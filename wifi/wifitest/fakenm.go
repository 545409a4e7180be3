package wifitest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
)

// NetworkManager's D-Bus names, from its D-Bus API reference.
const (
	nmName        = "org.freedesktop.NetworkManager"
	nmRoot        = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	nmIface       = "org.freedesktop.NetworkManager"
	settingsPath  = dbus.ObjectPath("/org/freedesktop/NetworkManager/Settings")
	settingsIface = nmIface + ".Settings"
	profileIface  = settingsIface + ".Connection"
	deviceIface   = nmIface + ".Device"
	wirelessIface = deviceIface + ".Wireless"
	apIface       = nmIface + ".AccessPoint"
	activeIface   = nmIface + ".Connection.Active"
	propsIface    = "org.freedesktop.DBus.Properties"

	// WifiDevice is the fake's Wi-Fi device (wlan0); it also has an
	// Ethernet device (eth0), which a client must pass over.
	WifiDevice     = dbus.ObjectPath("/org/freedesktop/NetworkManager/Devices/2")
	ethernetDevice = dbus.ObjectPath("/org/freedesktop/NetworkManager/Devices/1")
)

// NMActiveConnectionState and NMActiveConnectionStateReason values.
const (
	stateActivating  = 1
	stateActivated   = 2
	stateDeactivated = 4

	ReasonNone              = 1
	ReasonUserDisconnected  = 2
	ReasonConnectTimeout    = 6
	ReasonNoSecrets         = 9
	ReasonConnectionRemoved = 11
)

// Settings is a connection's settings (a{sa{sv}}).
type Settings = map[string]map[string]dbus.Variant

// Network is an access point within the fake's radio range.
type Network struct {
	SSID     string
	Strength uint8
	// Password is the WPA passphrase; "" is an open network.
	Password string
}

type apObj struct {
	path dbus.ObjectPath
	net  Network
}

type profileObj struct {
	path dbus.ObjectPath
	s    Settings // with its secrets
}

func (p *profileObj) id() string {
	id, _ := p.s["connection"]["id"].Value().(string)
	return id
}

type activeObj struct {
	path    dbus.ObjectPath
	profile *profileObj
	state   uint32
	ap      dbus.ObjectPath
}

// NM is a fake NetworkManager on a D-Bus bus: one Wi-Fi device whose
// scans find the networks in range, saved profiles, and activations that
// succeed when the profile's password is the network's (an access point
// profile always comes up), with the StateChanged and PropertiesChanged
// signals NetworkManager sends. One connection is active at a time, as on
// one device.
type NM struct {
	t    testing.TB
	conn *dbus.Conn

	mu       sync.Mutex
	inRange  []Network
	aps      []*apObj
	profiles []*profileObj
	actives  []*activeObj
	lastScan int64
	seq      int
	held     chan struct{}
	stalls   map[string]chan struct{}
	scans    int
	added    []Settings
	callers  []string
}

// StartNM connects a fake NetworkManager to the bus at addr, owning
// NetworkManager's name, with networks in range (found by the next scan).
func StartNM(t testing.TB, addr string, inRange ...Network) *NM {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake NetworkManager: connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &NM{t: t, conn: conn, inRange: inRange, lastScan: -1, stalls: map[string]chan struct{}{}}
	t.Cleanup(f.Release)
	tables := map[string]map[string]any{
		nmIface: {
			"GetDevices":               f.stall("GetDevices", f.getDevices),
			"GetAllDevices":            f.stall("GetAllDevices", f.getDevices),
			"ActivateConnection":       f.stall("ActivateConnection", f.activateConnection),
			"AddAndActivateConnection": f.stall("AddAndActivateConnection", f.addAndActivate),
		},
		settingsIface: {"ListConnections": f.stall("ListConnections", f.listConnections)},
		profileIface: {
			"GetSettings": f.stall("GetSettings", f.getSettings),
			"Delete":      f.stall("Delete", f.deleteProfile),
		},
		wirelessIface: {
			"RequestScan":        f.stall("RequestScan", f.requestScan),
			"GetAllAccessPoints": f.stall("GetAllAccessPoints", f.getAccessPoints),
			"GetAccessPoints":    f.stall("GetAccessPoints", f.getAccessPoints),
		},
		propsIface: {
			"Get":    f.stall("Get", f.propGet),
			"GetAll": f.stall("GetAll", f.propGetAll),
			"Set": func(dbus.Message, string, string, dbus.Variant) *dbus.Error {
				return dbusErr("org.freedesktop.DBus.Error.PropertyReadOnly", "read-only")
			},
		},
	}
	for iface, methods := range tables {
		if err := conn.ExportSubtreeMethodTable(methods, nmRoot, iface); err != nil {
			t.Fatalf("fake NetworkManager: export %s: %v", iface, err)
		}
	}
	reply, err := conn.RequestName(nmName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake NetworkManager: own %s: %v %v", nmName, reply, err)
	}
	return f
}

func dbusErr(name, text string) *dbus.Error { return dbus.NewError(name, []any{text}) }

func pathOf(msg dbus.Message) dbus.ObjectPath {
	p, _ := msg.Headers[dbus.FieldPath].Value().(dbus.ObjectPath)
	return p
}

// stall wraps a method so that Stall can hold its calls.
func (f *NM) stall(name string, fn any) any {
	wait := func(m dbus.Message) {
		f.mu.Lock()
		f.noteCaller(m)
		ch := f.stalls[name]
		f.mu.Unlock()
		if ch != nil {
			<-ch
		}
	}
	switch h := fn.(type) {
	case func(dbus.Message) ([]dbus.ObjectPath, *dbus.Error):
		return func(m dbus.Message) ([]dbus.ObjectPath, *dbus.Error) { wait(m); return h(m) }
	case func(dbus.Message, dbus.ObjectPath, dbus.ObjectPath, dbus.ObjectPath) (dbus.ObjectPath, *dbus.Error):
		return func(m dbus.Message, a, b, c dbus.ObjectPath) (dbus.ObjectPath, *dbus.Error) {
			wait(m)
			return h(m, a, b, c)
		}
	case func(dbus.Message, Settings, dbus.ObjectPath, dbus.ObjectPath) (dbus.ObjectPath, dbus.ObjectPath, *dbus.Error):
		return func(m dbus.Message, s Settings, a, b dbus.ObjectPath) (dbus.ObjectPath, dbus.ObjectPath, *dbus.Error) {
			wait(m)
			return h(m, s, a, b)
		}
	case func(dbus.Message) (Settings, *dbus.Error):
		return func(m dbus.Message) (Settings, *dbus.Error) { wait(m); return h(m) }
	case func(dbus.Message) *dbus.Error:
		return func(m dbus.Message) *dbus.Error { wait(m); return h(m) }
	case func(dbus.Message, map[string]dbus.Variant) *dbus.Error:
		return func(m dbus.Message, o map[string]dbus.Variant) *dbus.Error { wait(m); return h(m, o) }
	case func(dbus.Message, string, string) (dbus.Variant, *dbus.Error):
		return func(m dbus.Message, a, b string) (dbus.Variant, *dbus.Error) { wait(m); return h(m, a, b) }
	case func(dbus.Message, string) (map[string]dbus.Variant, *dbus.Error):
		return func(m dbus.Message, a string) (map[string]dbus.Variant, *dbus.Error) { wait(m); return h(m, a) }
	}
	panic(fmt.Sprintf("wifitest: no stall wrapper for %T", fn))
}

// noteCaller records the bus name a call came from (mu held).
func (f *NM) noteCaller(m dbus.Message) {
	sender, _ := m.Headers[dbus.FieldSender].Value().(string)
	if sender != "" && !slices.Contains(f.callers, sender) {
		f.callers = append(f.callers, sender)
	}
}

// ---- test controls ---------------------------------------------------------

// SetInRange replaces the networks in range (seen from the next scan).
func (f *NM) SetInRange(nets ...Network) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inRange = nets
}

// AddProfile saves a station profile named id for ssid with password
// (none if ""), as if made earlier.
func (f *NM) AddProfile(id, ssid, password string) {
	s := Settings{
		"connection":      {"id": dbus.MakeVariant(id), "type": dbus.MakeVariant("802-11-wireless"), "uuid": dbus.MakeVariant(fmt.Sprintf("uuid-%s", id))},
		"802-11-wireless": {"ssid": dbus.MakeVariant([]byte(ssid)), "mode": dbus.MakeVariant("infrastructure")},
	}
	if password != "" {
		s["802-11-wireless-security"] = map[string]dbus.Variant{"key-mgmt": dbus.MakeVariant("wpa-psk"), "psk": dbus.MakeVariant(password)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles = append(f.profiles, &profileObj{path: f.next("Settings"), s: s})
}

// AddHotspot saves an access-point profile named "Hotspot", as nmcli's
// "device wifi hotspot" makes it.
func (f *NM) AddHotspot(ssid, password string) {
	s := Settings{
		"connection":      {"id": dbus.MakeVariant("Hotspot"), "type": dbus.MakeVariant("802-11-wireless"), "autoconnect": dbus.MakeVariant(false)},
		"802-11-wireless": {"ssid": dbus.MakeVariant([]byte(ssid)), "mode": dbus.MakeVariant("ap")},
		"802-11-wireless-security": {"key-mgmt": dbus.MakeVariant("wpa-psk"), "psk": dbus.MakeVariant(password),
			"proto": dbus.MakeVariant([]string{"rsn"}), "pairwise": dbus.MakeVariant([]string{"ccmp"}), "group": dbus.MakeVariant([]string{"ccmp"})},
		"ipv4": {"method": dbus.MakeVariant("shared")},
		"ipv6": {"method": dbus.MakeVariant("ignore")},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles = append(f.profiles, &profileObj{path: f.next("Settings"), s: s})
}

// AddEthernetProfile saves a wired profile, which Wi-Fi clients must not list.
func (f *NM) AddEthernetProfile(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles = append(f.profiles, &profileObj{path: f.next("Settings"), s: Settings{
		"connection": {"id": dbus.MakeVariant(id), "type": dbus.MakeVariant("802-3-ethernet")},
	}})
}

// Up activates the saved profile id at once (the state before a test).
func (f *NM) Up(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.profile(id)
	if p == nil {
		f.t.Fatalf("fake NetworkManager: no profile %q", id)
	}
	f.downAll(ReasonUserDisconnected)
	f.actives = append(f.actives, &activeObj{path: f.next("ActiveConnection"), profile: p, state: stateActivated, ap: "/"})
}

// Hold makes activations wait until Release.
func (f *NM) Hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = make(chan struct{})
	}
}

// Release lets held activations finish.
func (f *NM) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held != nil {
		close(f.held)
		f.held = nil
	}
}

// Stall holds every call of method (a member name such as "GetDevices")
// until the returned function is called (also at the end of the test).
func (f *NM) Stall(method string) (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.stalls[method] = ch
	f.mu.Unlock()
	release = sync.OnceFunc(func() {
		f.mu.Lock()
		delete(f.stalls, method)
		f.mu.Unlock()
		close(ch)
	})
	f.t.Cleanup(release)
	return release
}

// Callers lists the unique bus names of the connections that called
// NetworkManager, in the order of their first call: a client that opens a
// new connection shows up as a new name.
func (f *NM) Callers() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.callers)
}

// Connected asks the bus whether the connection with the unique name
// still exists.
func (f *NM) Connected(name string) bool {
	var has bool
	if err := f.conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, name).Store(&has); err != nil {
		f.t.Errorf("fake NetworkManager: NameHasOwner: %v", err)
	}
	return has
}

// Profiles lists the saved profiles' names, oldest first.
func (f *NM) Profiles() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, p := range f.profiles {
		out = append(out, p.id())
	}
	return out
}

// Active is the name of the activated profile ("" when none).
func (f *NM) Active() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.actives {
		if a.state == stateActivated {
			return a.profile.id()
		}
	}
	return ""
}

// ProfileSettings returns the saved settings of profile id, secrets
// included (nil if there is none).
func (f *NM) ProfileSettings(id string) Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p := f.profile(id); p != nil {
		return copySettings(p.s, true)
	}
	return nil
}

// Added returns the settings of each AddAndActivateConnection call.
func (f *NM) Added() []Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.added)
}

// Scans counts the RequestScan calls.
func (f *NM) Scans() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.scans
}

// ---- objects ---------------------------------------------------------------

// next makes a new object path under kind (mu held).
func (f *NM) next(kind string) dbus.ObjectPath {
	f.seq++
	return dbus.ObjectPath(fmt.Sprintf("%s/%s/%d", nmRoot, kind, f.seq))
}

func (f *NM) profile(id string) *profileObj {
	for _, p := range f.profiles {
		if p.id() == id {
			return p
		}
	}
	return nil
}

func (f *NM) profileAt(path dbus.ObjectPath) *profileObj {
	for _, p := range f.profiles {
		if p.path == path {
			return p
		}
	}
	return nil
}

func (f *NM) activeAt(path dbus.ObjectPath) *activeObj {
	for _, a := range f.actives {
		if a.path == path {
			return a
		}
	}
	return nil
}

func (f *NM) apAt(path dbus.ObjectPath) *apObj {
	for _, a := range f.aps {
		if a.path == path {
			return a
		}
	}
	return nil
}

func copySettings(s Settings, secrets bool) Settings {
	out := Settings{}
	for k, v := range s {
		m := map[string]dbus.Variant{}
		for kk, vv := range v {
			if !secrets && k == "802-11-wireless-security" && kk == "psk" {
				continue // GetSettings never returns secrets
			}
			m[kk] = vv
		}
		out[k] = m
	}
	return out
}

// emitState sends an active connection's StateChanged and
// PropertiesChanged signals (mu held).
func (f *NM) emitState(a *activeObj, reason uint32) {
	_ = f.conn.Emit(a.path, activeIface+".StateChanged", a.state, reason)
	_ = f.conn.Emit(a.path, propsIface+".PropertiesChanged", activeIface, map[string]dbus.Variant{"State": dbus.MakeVariant(a.state)}, []string{})
}

// down deactivates a and removes it, as NetworkManager does (mu held).
func (f *NM) down(a *activeObj, reason uint32) {
	a.state = stateDeactivated
	f.emitState(a, reason)
	f.actives = slices.DeleteFunc(f.actives, func(x *activeObj) bool { return x == a })
}

func (f *NM) downAll(reason uint32) {
	for _, a := range slices.Clone(f.actives) {
		f.down(a, reason)
	}
}

// start begins activating p on the device: the connection up goes down, a
// new active connection is activating, and finishes in the background
// (mu held).
func (f *NM) start(p *profileObj, ap dbus.ObjectPath) dbus.ObjectPath {
	f.downAll(ReasonUserDisconnected)
	a := &activeObj{path: f.next("ActiveConnection"), profile: p, state: stateActivating, ap: ap}
	f.actives = append(f.actives, a)
	held := f.held
	go f.finish(a, held)
	return a.path
}

func (f *NM) finish(a *activeObj, held chan struct{}) {
	if held != nil {
		<-held
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if a.state != stateActivating || f.activeAt(a.path) == nil {
		return // replaced meanwhile
	}
	if ok, reason := f.outcome(a.profile); !ok {
		f.down(a, reason)
		return
	}
	a.state = stateActivated
	f.emitState(a, ReasonNone)
}

// outcome decides an activation: an access point always comes up; a
// station profile needs its network in the last scan and, for a protected
// one, its password.
func (f *NM) outcome(p *profileObj) (bool, uint32) {
	if mode, _ := p.s["802-11-wireless"]["mode"].Value().(string); mode == "ap" {
		return true, 0
	}
	ssid, _ := p.s["802-11-wireless"]["ssid"].Value().([]byte)
	psk, _ := p.s["802-11-wireless-security"]["psk"].Value().(string)
	for _, ap := range f.aps {
		if ap.net.SSID != string(ssid) {
			continue
		}
		if ap.net.Password != "" && psk != ap.net.Password {
			return false, ReasonNoSecrets
		}
		return true, 0
	}
	return false, ReasonConnectTimeout
}

// ---- methods ---------------------------------------------------------------

func (f *NM) getDevices(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	if pathOf(msg) != nmRoot {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownMethod", "no such method")
	}
	return []dbus.ObjectPath{ethernetDevice, WifiDevice}, nil
}

func (f *NM) activateConnection(msg dbus.Message, conn, dev, specific dbus.ObjectPath) (dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pathOf(msg) != nmRoot {
		return "", dbusErr("org.freedesktop.DBus.Error.UnknownMethod", "no such method")
	}
	p := f.profileAt(conn)
	if p == nil {
		return "", dbusErr("org.freedesktop.NetworkManager.UnknownConnection", "Connection not found")
	}
	if dev != WifiDevice {
		return "", dbusErr("org.freedesktop.NetworkManager.UnknownDevice", "Device not found")
	}
	return f.start(p, specific), nil
}

func (f *NM) addAndActivate(msg dbus.Message, s Settings, dev, specific dbus.ObjectPath) (dbus.ObjectPath, dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pathOf(msg) != nmRoot {
		return "", "", dbusErr("org.freedesktop.DBus.Error.UnknownMethod", "no such method")
	}
	f.added = append(f.added, copySettings(s, true))
	if dev != WifiDevice {
		return "", "", dbusErr("org.freedesktop.NetworkManager.UnknownDevice", "Device not found")
	}
	s = copySettings(s, true)
	if s["connection"] == nil {
		s["connection"] = map[string]dbus.Variant{}
	}
	if s["802-11-wireless"] == nil {
		s["802-11-wireless"] = map[string]dbus.Variant{}
	}
	var ap *apObj
	if specific != "/" && specific != "" {
		if ap = f.apAt(specific); ap == nil {
			return "", "", dbusErr("org.freedesktop.NetworkManager.UnknownConnection", "Access point not found")
		}
		// Completion from the access point, as NetworkManager does.
		if _, ok := s["802-11-wireless"]["ssid"]; !ok {
			s["802-11-wireless"]["ssid"] = dbus.MakeVariant([]byte(ap.net.SSID))
		}
		if sec := s["802-11-wireless-security"]; sec != nil && ap.net.Password != "" {
			if _, ok := sec["key-mgmt"]; !ok {
				sec["key-mgmt"] = dbus.MakeVariant("wpa-psk")
			}
		}
	}
	ssid, ok := s["802-11-wireless"]["ssid"].Value().([]byte)
	if !ok || len(ssid) == 0 || len(ssid) > 32 {
		return "", "", dbusErr("org.freedesktop.NetworkManager.Settings.Connection.InvalidProperty", "802-11-wireless.ssid: property is invalid")
	}
	if typ, _ := s["connection"]["type"].Value().(string); typ == "" {
		s["connection"]["type"] = dbus.MakeVariant("802-11-wireless")
	} else if typ != "802-11-wireless" {
		return "", "", dbusErr("org.freedesktop.NetworkManager.Settings.Connection.InvalidProperty", "connection.type: property is invalid")
	}
	if id, _ := s["connection"]["id"].Value().(string); id == "" {
		s["connection"]["id"] = dbus.MakeVariant(string(ssid))
	}
	if sec := s["802-11-wireless-security"]; sec != nil {
		psk, _ := sec["psk"].Value().(string)
		if km, _ := sec["key-mgmt"].Value().(string); km == "" {
			return "", "", dbusErr("org.freedesktop.NetworkManager.Settings.Connection.MissingProperty", "802-11-wireless-security.key-mgmt: property is missing")
		}
		if !validPSK(psk) {
			return "", "", dbusErr("org.freedesktop.NetworkManager.Settings.Connection.InvalidProperty", "802-11-wireless-security.psk: property is invalid")
		}
	}
	p := &profileObj{path: f.next("Settings"), s: s}
	f.profiles = append(f.profiles, p)
	apPath := dbus.ObjectPath("/")
	if ap != nil {
		apPath = ap.path
	}
	return p.path, f.start(p, apPath), nil
}

// validPSK is NetworkManager's rule: 8 to 63 ASCII characters, or 64 hex
// digits.
func validPSK(p string) bool {
	if len(p) == 64 {
		return strings.Trim(p, "0123456789abcdefABCDEF") == ""
	}
	return len(p) >= 8 && len(p) <= 63
}

func (f *NM) listConnections(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pathOf(msg) != settingsPath {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownMethod", "no such method")
	}
	out := []dbus.ObjectPath{}
	for _, p := range f.profiles {
		out = append(out, p.path)
	}
	return out, nil
}

func (f *NM) getSettings(msg dbus.Message) (Settings, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.profileAt(pathOf(msg))
	if p == nil {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownObject", "no such object")
	}
	return copySettings(p.s, false), nil
}

func (f *NM) deleteProfile(msg dbus.Message) *dbus.Error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.profileAt(pathOf(msg))
	if p == nil {
		return dbusErr("org.freedesktop.DBus.Error.UnknownObject", "no such object")
	}
	for _, a := range slices.Clone(f.actives) {
		if a.profile == p {
			f.down(a, ReasonConnectionRemoved)
		}
	}
	f.profiles = slices.DeleteFunc(f.profiles, func(x *profileObj) bool { return x == p })
	return nil
}

// requestScan answers at once and finishes the scan in the background,
// as NetworkManager does; LastScan changes when it is done.
func (f *NM) requestScan(msg dbus.Message, _ map[string]dbus.Variant) *dbus.Error {
	if pathOf(msg) != WifiDevice {
		return dbusErr("org.freedesktop.DBus.Error.UnknownObject", "no such object")
	}
	f.mu.Lock()
	f.scans++
	f.mu.Unlock()
	go func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		// An access point seen again keeps its object, as NetworkManager
		// keeps one per BSSID.
		old := f.aps
		f.aps = nil
		for _, n := range f.inRange {
			i := slices.IndexFunc(old, func(a *apObj) bool { return a.net == n })
			if i >= 0 {
				f.aps = append(f.aps, old[i])
				old = slices.Delete(old, i, i+1)
				continue
			}
			f.aps = append(f.aps, &apObj{path: f.next("AccessPoint"), net: n})
		}
		if f.lastScan < 0 {
			f.lastScan = 0
		}
		f.lastScan += 1000
		_ = f.conn.Emit(WifiDevice, propsIface+".PropertiesChanged", wirelessIface,
			map[string]dbus.Variant{"LastScan": dbus.MakeVariant(f.lastScan), "AccessPoints": dbus.MakeVariant(f.apPaths())}, []string{})
	}()
	return nil
}

func (f *NM) apPaths() []dbus.ObjectPath {
	out := []dbus.ObjectPath{}
	for _, a := range f.aps {
		out = append(out, a.path)
	}
	return out
}

func (f *NM) getAccessPoints(msg dbus.Message) ([]dbus.ObjectPath, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pathOf(msg) != WifiDevice {
		return nil, dbusErr("org.freedesktop.DBus.Error.UnknownObject", "no such object")
	}
	return f.apPaths(), nil
}

// ---- properties ------------------------------------------------------------

// props returns an object's properties for iface; ok is false when the
// object does not exist or has no such interface (mu held).
func (f *NM) props(path dbus.ObjectPath, iface string) (map[string]dbus.Variant, *dbus.Error) {
	v := dbus.MakeVariant
	noIface := dbusErr("org.freedesktop.DBus.Error.UnknownInterface", "no such interface")
	switch {
	case path == nmRoot:
		if iface != nmIface {
			return nil, noIface
		}
		var actives []dbus.ObjectPath
		for _, a := range f.actives {
			actives = append(actives, a.path)
		}
		if actives == nil {
			actives = []dbus.ObjectPath{}
		}
		devs := []dbus.ObjectPath{ethernetDevice, WifiDevice}
		return map[string]dbus.Variant{"Devices": v(devs), "AllDevices": v(devs), "ActiveConnections": v(actives),
			"WirelessEnabled": v(true), "Version": v("1.42.4-fake")}, nil
	case path == settingsPath:
		if iface != settingsIface {
			return nil, noIface
		}
		var ps []dbus.ObjectPath
		for _, p := range f.profiles {
			ps = append(ps, p.path)
		}
		return map[string]dbus.Variant{"Connections": v(ps)}, nil
	case path == WifiDevice || path == ethernetDevice:
		wifi := path == WifiDevice
		switch iface {
		case deviceIface:
			typ, name := uint32(1), "eth0"
			if wifi {
				typ, name = 2, "wlan0"
			}
			state, ac := uint32(30), dbus.ObjectPath("/")
			for _, a := range f.actives {
				if wifi && a.state == stateActivated {
					state, ac = 100, a.path
				}
			}
			return map[string]dbus.Variant{"Interface": v(name), "DeviceType": v(typ), "State": v(state), "ActiveConnection": v(ac), "Managed": v(true)}, nil
		case wirelessIface:
			if !wifi {
				return nil, noIface
			}
			return map[string]dbus.Variant{"AccessPoints": v(f.apPaths()), "LastScan": v(f.lastScan), "Mode": v(uint32(2)),
				"HwAddress": v("02:00:00:00:00:01"), "WirelessCapabilities": v(uint32(0x7ff))}, nil
		}
		return nil, noIface
	}
	if ap := f.apAt(path); ap != nil {
		if iface != apIface {
			return nil, noIface
		}
		flags, rsn := uint32(0), uint32(0)
		if ap.net.Password != "" {
			flags, rsn = 1, 0x188 // privacy; RSN: CCMP pairwise and group, PSK key management
		}
		return map[string]dbus.Variant{"Ssid": v([]byte(ap.net.SSID)), "Strength": v(ap.net.Strength), "Flags": v(flags),
			"WpaFlags": v(uint32(0)), "RsnFlags": v(rsn), "Frequency": v(uint32(2437)), "HwAddress": v("02:00:00:00:01:00"), "Mode": v(uint32(2))}, nil
	}
	if a := f.activeAt(path); a != nil {
		if iface != activeIface {
			return nil, noIface
		}
		uuid, _ := a.profile.s["connection"]["uuid"].Value().(string)
		typ, _ := a.profile.s["connection"]["type"].Value().(string)
		return map[string]dbus.Variant{"Connection": v(a.profile.path), "Id": v(a.profile.id()), "Uuid": v(uuid), "Type": v(typ),
			"State": v(a.state), "Devices": v([]dbus.ObjectPath{WifiDevice}), "SpecificObject": v(a.ap), "Default": v(false), "Vpn": v(false)}, nil
	}
	return nil, dbusErr("org.freedesktop.DBus.Error.UnknownObject", "no such object")
}

func (f *NM) propGet(msg dbus.Message, iface, name string) (dbus.Variant, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, err := f.props(pathOf(msg), iface)
	if err != nil {
		return dbus.Variant{}, err
	}
	val, ok := m[name]
	if !ok {
		return dbus.Variant{}, dbusErr("org.freedesktop.DBus.Error.InvalidArgs", "no such property "+name)
	}
	return val, nil
}

func (f *NM) propGetAll(msg dbus.Message, iface string) (map[string]dbus.Variant, *dbus.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.props(pathOf(msg), iface)
}
