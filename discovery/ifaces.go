package discovery

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Iface is what discovery needs to know of a network interface: plain
// data, so that the selection rules are tested on made-up lists.
type Iface struct {
	Index     int
	Name      string
	Up        bool
	Multicast bool
	Loopback  bool
	// Addrs are the interface's addresses (IPv4 and IPv6), in the kernel's
	// order: the first IPv4 one is the interface's primary address.
	Addrs []netip.Addr
}

// IPv4 returns the interface's IPv4 addresses.
func (i Iface) IPv4() []netip.Addr {
	var out []netip.Addr
	for _, a := range i.Addrs {
		if a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

// Interfaces lists the host's interfaces with their addresses.
func Interfaces() ([]Iface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]Iface, 0, len(ifs))
	for _, ni := range ifs {
		it := Iface{Index: ni.Index, Name: ni.Name, Up: ni.Flags&net.FlagUp != 0,
			Multicast: ni.Flags&net.FlagMulticast != 0, Loopback: ni.Flags&net.FlagLoopback != 0}
		addrs, err := ni.Addrs()
		if err != nil {
			continue // gone meanwhile
		}
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil {
				it.Addrs = append(it.Addrs, pfx.Addr().Unmap())
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// Binding is where the API listens, as far as mDNS cares.
type Binding struct {
	// All is true when the API listens on every address (0.0.0.0 or ::).
	All bool
	// Addr is the one address the API listens on when not All.
	Addr netip.Addr
	// Interfaces, when not empty, forces the advertisement onto these
	// interfaces (by name) whatever the bind address (--mdns-interface).
	Interfaces []string
}

// ParseBinding reads the API's bind host. Host names other than
// "localhost" must be resolved by the caller first.
func ParseBinding(host string, forced []string) (Binding, error) {
	b := Binding{Interfaces: forced}
	switch h := strings.Trim(host, "[]"); h {
	case "", "0.0.0.0", "::":
		b.All = true
		return b, nil
	case "localhost":
		b.Addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		return b, nil
	default:
		a, err := netip.ParseAddr(h)
		if err != nil {
			return b, fmt.Errorf("bind host %q is not an address", host)
		}
		b.Addr = a.Unmap()
		if b.Addr.IsUnspecified() {
			b.All, b.Addr = true, netip.Addr{}
		}
		return b, nil
	}
}

// Advertised is one interface the service is announced on, with the
// addresses its A records carry.
type Advertised struct {
	Index int
	Name  string
	Addrs []netip.Addr // IPv4 only
}

// Select picks the interfaces to advertise on, and says why when there are
// none. The rules follow what a client on that network can reach:
//   - bound to every address: every interface that is up, multicast
//     capable, not loopback and has an IPv4 address, with all of its IPv4
//     addresses;
//   - bound to one IPv4 address: the interface holding it, with that
//     address only;
//   - bound to loopback: none (nothing outside the host can connect);
//   - bound to one IPv6 address: none (the responder speaks mDNS over IPv4);
//   - forced interfaces: exactly those of them that are up, multicast capable
//     and have an IPv4 address, with the bound address only if they hold it,
//     else all their IPv4 addresses.
func Select(b Binding, ifs []Iface) ([]Advertised, string) {
	usable := func(i Iface) bool { return i.Up && i.Multicast && len(i.IPv4()) > 0 }
	var out []Advertised
	if len(b.Interfaces) > 0 {
		for _, i := range ifs {
			if !slices.Contains(b.Interfaces, i.Name) || !usable(i) {
				continue
			}
			addrs := i.IPv4()
			if b.Addr.Is4() && slices.Contains(addrs, b.Addr) {
				addrs = []netip.Addr{b.Addr}
			}
			out = append(out, Advertised{Index: i.Index, Name: i.Name, Addrs: addrs})
		}
		if len(out) == 0 {
			return nil, fmt.Sprintf("none of the interfaces %v is up with multicast and an IPv4 address", b.Interfaces)
		}
		return out, ""
	}
	switch {
	case b.All:
		for _, i := range ifs {
			if usable(i) && !i.Loopback {
				out = append(out, Advertised{Index: i.Index, Name: i.Name, Addrs: i.IPv4()})
			}
		}
		if len(out) == 0 {
			return nil, "no interface is up with multicast and an IPv4 address (besides loopback)"
		}
	case b.Addr.IsLoopback():
		return nil, "the API listens on loopback only"
	case b.Addr.Is6():
		return nil, "the API listens on one IPv6 address; the responder advertises over IPv4 only"
	default:
		for _, i := range ifs {
			if slices.Contains(i.Addrs, b.Addr) {
				if !usable(i) || i.Loopback {
					return nil, fmt.Sprintf("the interface %s holding %s is down, loopback or without multicast", i.Name, b.Addr)
				}
				return []Advertised{{Index: i.Index, Name: i.Name, Addrs: []netip.Addr{b.Addr}}}, ""
			}
		}
		return nil, fmt.Sprintf("no interface holds %s", b.Addr)
	}
	return out, ""
}

// Loopback tells whether the binding can only be reached from this host,
// in which case the daemon does not start a responder at all.
func (b Binding) Loopback() bool {
	return !b.All && b.Addr.IsLoopback() && len(b.Interfaces) == 0
}

// ---- wlan_ip -----------------------------------------------------------------

// SysWireless tells whether the interface is a wireless one, as Linux says
// in sysfs (cfg80211 devices have a wireless or phy80211 entry).
func SysWireless(name string) bool {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return false
	}
	for _, e := range []string{"wireless", "phy80211"} {
		if _, err := os.Stat(filepath.Join("/sys/class/net", name, e)); err == nil {
			return true
		}
	}
	return false
}

// WirelessIPv4 returns the primary IPv4 address of the wireless interface,
// or "" when there is none: the reference reports wlan0's address; here
// wlan0 comes first, then the other wlan* interfaces and those the
// wireless func recognises, by name.
func WirelessIPv4(ifs []Iface, wireless func(name string) bool) string {
	cands := make([]Iface, 0, 2)
	for _, i := range ifs {
		if i.Loopback || !i.Up {
			continue
		}
		if strings.HasPrefix(i.Name, "wlan") || (wireless != nil && wireless(i.Name)) {
			cands = append(cands, i)
		}
	}
	slices.SortFunc(cands, func(a, b Iface) int {
		if (a.Name == "wlan0") != (b.Name == "wlan0") {
			if a.Name == "wlan0" {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	for _, i := range cands {
		for _, a := range i.IPv4() {
			if !a.IsLoopback() {
				return a.String()
			}
		}
	}
	return ""
}
