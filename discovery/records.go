package discovery

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/dns/dnsmessage"
)

// ServiceType is the reference's DNS-SD service type.
const ServiceType = "_reachy-mini._tcp.local."

// servicesEnum is DNS-SD's service type enumeration name (RFC 6763 9).
const servicesEnum = "_services._dns-sd._udp.local."

// TTLs as the reference's responder (python-zeroconf) sets them: host
// records (SRV, A) two minutes, the others 75 minutes (RFC 6762 10).
const (
	hostTTL   = 120
	otherTTL  = 4500
	legacyTTL = 10 // RFC 6762 6.7: answers to one-shot (legacy) queries
)

// cacheFlush is the top bit of a record's class in mDNS: the record is
// unique, and a receiver replaces what it cached for that name and type.
const cacheFlush = 1 << 15

// Info is what the advertisement says about the daemon.
type Info struct {
	// RobotName is the robot's name: the instance name and the robot_name
	// TXT record.
	RobotName string
	// Host is this host's name (one label, without .local); the SRV record
	// points at <Host>.local.
	Host string
	// Port is the API's TCP port.
	Port uint16
	// Version is the daemon version the status reports.
	Version string
	// Wireless selects the model TXT record.
	Wireless bool
	// UnitID is the hardware id ("" when none: no unit_id record).
	UnitID string
}

// TXT returns the reference's TXT records, in its order: version,
// robot_name, ws_path, address, model, manufacturer, caps, api and, when
// the hardware id is known, unit_id. address is the host's primary address.
func TXT(i Info, address string) []string {
	model := "Reachy Mini Lite"
	if i.Wireless {
		model = "Reachy Mini Wireless"
	}
	t := []string{
		"version=" + i.Version,
		"robot_name=" + i.RobotName,
		"ws_path=/ws/sdk",
		"address=" + address,
		"model=" + model,
		"manufacturer=Pollen Robotics",
		"caps=camera,mic,speaker,motion,apps",
		"api=rest+ws",
	}
	if i.UnitID != "" {
		t = append(t, "unit_id="+i.UnitID)
	}
	for k, s := range t {
		t[k] = truncBytes(s, 255) // a TXT string's length is one byte
	}
	return t
}

// truncBytes cuts s to at most n bytes at a rune boundary.
func truncBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// InstanceLabel returns the instance part of the service name for a robot
// name and a conflict number (n >= 2 appends "-n", as the reference's
// responder does when another host holds the name).
//
// The reference writes the instance with dots as label separators (its
// responder splits the whole name on dots), and so does this responder, so
// "Bob.v2" is advertised as the reference advertises it. When that cannot
// be encoded (an empty piece, or one over 63 bytes), dots become dashes and
// the name is cut to one 63-byte label.
func InstanceLabel(name string, n int) string {
	suffix := ""
	if n >= 2 {
		suffix = fmt.Sprintf("-%d", n)
	}
	label := name + suffix
	ok := len(label) <= 200
	for _, piece := range strings.Split(label, ".") {
		if piece == "" || len(piece) > 63 {
			ok = false
		}
	}
	if ok {
		return label
	}
	base := truncBytes(strings.ReplaceAll(name, ".", "-"), 63-len(suffix))
	if base == "" {
		base = "reachy_mini"
	}
	return base + suffix
}

// HostLabel returns the host part of the SRV target for a host name and a
// conflict number (n >= 2 appends "-n", as avahi does with its host name).
func HostLabel(host string, n int) string {
	if i := strings.IndexByte(host, '.'); i >= 0 {
		host = host[:i]
	}
	if host == "" {
		host = "reachy-mini"
	}
	suffix := ""
	if n >= 2 {
		suffix = fmt.Sprintf("-%d", n)
	}
	return truncBytes(host, 63-len(suffix)) + suffix
}

// Records is the advertisement on one interface: the shared PTR records,
// the unique SRV and TXT records of the instance, and the unique A records
// of the host name with that interface's addresses.
type Records struct {
	Instance string // <instance>._reachy-mini._tcp.local.
	Host     string // <host>.local.
	PTR      dnsmessage.Resource
	Enum     dnsmessage.Resource
	SRV      dnsmessage.Resource
	TXT      dnsmessage.Resource
	A        []dnsmessage.Resource
}

// Build builds the records for an instance label, a host label, the TXT
// strings and the interface's addresses.
func Build(instance, host string, port uint16, txt []string, addrs []netip.Addr) (*Records, error) {
	r := &Records{Instance: instance + "." + ServiceType, Host: host + ".local."}
	inst, err := dnsmessage.NewName(r.Instance)
	if err != nil {
		return nil, fmt.Errorf("instance name %q: %w", instance, err)
	}
	hn, err := dnsmessage.NewName(r.Host)
	if err != nil {
		return nil, fmt.Errorf("host name %q: %w", host, err)
	}
	st, enum := dnsmessage.MustNewName(ServiceType), dnsmessage.MustNewName(servicesEnum)
	hdr := func(n dnsmessage.Name, t dnsmessage.Type, ttl uint32, unique bool) dnsmessage.ResourceHeader {
		c := dnsmessage.ClassINET
		if unique {
			c |= cacheFlush
		}
		return dnsmessage.ResourceHeader{Name: n, Type: t, Class: c, TTL: ttl}
	}
	r.PTR = dnsmessage.Resource{Header: hdr(st, dnsmessage.TypePTR, otherTTL, false), Body: &dnsmessage.PTRResource{PTR: inst}}
	r.Enum = dnsmessage.Resource{Header: hdr(enum, dnsmessage.TypePTR, otherTTL, false), Body: &dnsmessage.PTRResource{PTR: st}}
	r.SRV = dnsmessage.Resource{Header: hdr(inst, dnsmessage.TypeSRV, hostTTL, true), Body: &dnsmessage.SRVResource{Port: port, Target: hn}}
	r.TXT = dnsmessage.Resource{Header: hdr(inst, dnsmessage.TypeTXT, otherTTL, true), Body: &dnsmessage.TXTResource{TXT: slices.Clone(txt)}}
	for _, a := range addrs {
		if a.Is4() {
			r.A = append(r.A, dnsmessage.Resource{Header: hdr(hn, dnsmessage.TypeA, hostTTL, true), Body: &dnsmessage.AResource{A: a.As4()}})
		}
	}
	// Check the whole set packs (label and TXT lengths) before it is used.
	if _, err := (&dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Answers: r.all()}).Pack(); err != nil {
		return nil, fmt.Errorf("records for %q: %w", instance, err)
	}
	return r, nil
}

func (r *Records) all() []dnsmessage.Resource {
	return append([]dnsmessage.Resource{r.PTR, r.SRV, r.TXT, r.Enum}, r.A...)
}

// sameName compares DNS names as mDNS does: ASCII case-insensitively, on
// their dotted form (so an instance whose dots were sent as separators
// still matches).
func sameName(a dnsmessage.Name, b string) bool {
	return strings.EqualFold(a.String(), b)
}

// rdata returns a record's data in canonical wire form (names
// uncompressed), for equality and for the probe tie-break of RFC 6762
// 8.2, which compares it bytewise. ok is false for types the responder
// does not publish.
func rdata(r dnsmessage.Resource) ([]byte, bool) {
	switch b := r.Body.(type) {
	case *dnsmessage.AResource:
		return b.A[:], true
	case *dnsmessage.PTRResource:
		return wireName(b.PTR), true
	case *dnsmessage.SRVResource:
		out := binary.BigEndian.AppendUint16(nil, b.Priority)
		out = binary.BigEndian.AppendUint16(out, b.Weight)
		out = binary.BigEndian.AppendUint16(out, b.Port)
		return append(out, wireName(b.Target)...), true
	case *dnsmessage.TXTResource:
		var out []byte
		for _, s := range b.TXT {
			out = append(out, byte(len(s)))
			out = append(out, s...)
		}
		return out, true
	}
	return nil, false
}

// wireName writes a name uncompressed and lower-cased: mDNS names compare
// case-insensitively, and RFC 6762 8.2 compares rdata names in lower case.
func wireName(n dnsmessage.Name) []byte {
	var out []byte
	for _, l := range strings.Split(strings.TrimSuffix(strings.ToLower(n.String()), "."), ".") {
		if l == "" {
			continue
		}
		out = append(out, byte(len(l)))
		out = append(out, l...)
	}
	return append(out, 0)
}

// sameRecord tells whether two records have the same name, type, class
// (ignoring the cache-flush bit) and data: the TTL does not count.
func sameRecord(a, b dnsmessage.Resource) bool {
	if a.Header.Type != b.Header.Type || a.Header.Class&^cacheFlush != b.Header.Class&^cacheFlush ||
		!strings.EqualFold(a.Header.Name.String(), b.Header.Name.String()) {
		return false
	}
	da, ok1 := rdata(a)
	db, ok2 := rdata(b)
	return ok1 && ok2 && bytes.Equal(da, db)
}
