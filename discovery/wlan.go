package discovery

import (
	"sync"
	"time"
)

// WlanIP reports the wireless interface's IPv4 address for the daemon
// status's wlan_ip. The status is built every second and on each GET, and
// Wi-Fi addresses come and go (DHCP, roaming, the hotspot fallback), so
// the address is re-read at most every TTL and served from a cache in
// between: a status costs a mutex, not a netlink dump.
type WlanIP struct {
	// TTL is how long an answer is kept (default 3 s).
	TTL time.Duration
	// List lists the interfaces (default Interfaces).
	List func() ([]Iface, error)
	// Wireless recognises wireless interfaces by name besides wlan*
	// (default SysWireless).
	Wireless func(name string) bool
	// Now is the clock (default time.Now).
	Now func() time.Time

	mu sync.Mutex
	at time.Time
	ip string
	ok bool
}

// Get returns the address, or "" when there is no wireless interface with
// an IPv4 address.
func (w *WlanIP) Get() string {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ttl := w.TTL
	if ttl <= 0 {
		ttl = 3 * time.Second
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	t := now()
	if w.ok && t.Sub(w.at) < ttl && !t.Before(w.at) {
		return w.ip
	}
	list, wireless := w.List, w.Wireless
	if list == nil {
		list = Interfaces
	}
	if wireless == nil {
		wireless = SysWireless
	}
	ifs, err := list()
	if err != nil {
		// Keep the last answer rather than flapping to null on a
		// transient error; try again at the next expiry.
		w.at, w.ok = t, true
		return w.ip
	}
	w.ip, w.at, w.ok = WirelessIPv4(ifs, wireless), t, true
	return w.ip
}
