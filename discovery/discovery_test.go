package discovery

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/dns/dnsmessage"
)

func TestTXTRecordsAsReference(t *testing.T) {
	lite := TXT(Info{RobotName: "reachy_mini", Version: "1.10.0.dev0"}, "192.168.1.20")
	want := []string{"version=1.10.0.dev0", "robot_name=reachy_mini", "ws_path=/ws/sdk", "address=192.168.1.20",
		"model=Reachy Mini Lite", "manufacturer=Pollen Robotics", "caps=camera,mic,speaker,motion,apps", "api=rest+ws"}
	if !slices.Equal(lite, want) {
		t.Fatalf("Lite TXT:\n got %q\nwant %q", lite, want)
	}
	wl := TXT(Info{RobotName: "r", Version: "v", Wireless: true, UnitID: "0123456789abcdef"}, "10.0.0.2")
	if wl[4] != "model=Reachy Mini Wireless" || wl[len(wl)-1] != "unit_id=0123456789abcdef" || len(wl) != 9 {
		t.Fatalf("Wireless TXT: %q", wl)
	}
	long := TXT(Info{RobotName: strings.Repeat("é", 64)}, "x")[1]
	if len(long) > 255 || !utf8.ValidString(long) || !strings.HasPrefix(long, "robot_name=é") {
		t.Fatalf("a 64-rune name must be cut to a valid 255-byte TXT string, got %d bytes", len(long))
	}
}

func TestInstanceAndHostLabels(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		want string
	}{
		{"reachy_mini", 0, "reachy_mini"},
		{"reachy_mini", 2, "reachy_mini-2"},
		{"Bob's robot", 0, "Bob's robot"},
		{"Bob.v2", 0, "Bob.v2"}, // dots are label separators, as the reference writes them
		{"a..b", 0, "a--b"},
		{".lead", 3, "-lead-3"},
	} {
		if got := InstanceLabel(c.name, c.n); got != c.want {
			t.Errorf("InstanceLabel(%q, %d) = %q, want %q", c.name, c.n, got, c.want)
		}
	}
	long := InstanceLabel(strings.Repeat("é", 64), 12)
	if len(long) > 63 || !utf8.ValidString(long) || !strings.HasSuffix(long, "-12") {
		t.Fatalf("long instance label %q (%d bytes)", long, len(long))
	}
	if _, err := Build(long, "h", 1, nil, nil); err != nil {
		t.Fatalf("a cut label must encode: %v", err)
	}
	if got := HostLabel("robot.example.org", 0); got != "robot" {
		t.Errorf("HostLabel keeps the first label, got %q", got)
	}
	if got := HostLabel("reachy-mini", 2); got != "reachy-mini-2" {
		t.Errorf("HostLabel conflict suffix: %q", got)
	}
	if got := HostLabel("", 0); got != "reachy-mini" {
		t.Errorf("HostLabel of no host name: %q", got)
	}
}

func testRecords(t testing.TB, instance string) *Records {
	t.Helper()
	r, err := Build(instance, "reachy-mini", 8000, TXT(Info{RobotName: instance, Version: "1.10.0.dev0"}, "10.0.0.2"),
		[]netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("fe80::1")})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func question(name string, typ dnsmessage.Type, unicastBit bool) dnsmessage.Question {
	c := dnsmessage.ClassINET
	if unicastBit {
		c |= cacheFlush
	}
	return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: c}
}

// roundTrip packs and unpacks a message: what a peer would read.
func roundTrip(t *testing.T, m *dnsmessage.Message) *dnsmessage.Message {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var out dnsmessage.Message
	if err := out.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return &out
}

func TestReplyToBrowse(t *testing.T) {
	r := testRecords(t, "reachy_mini")
	if len(r.A) != 1 {
		t.Fatalf("A records carry IPv4 addresses only, got %d", len(r.A))
	}
	q := &dnsmessage.Message{Questions: []dnsmessage.Question{question("_Reachy-Mini._tcp.local.", dnsmessage.TypePTR, false)}}
	resp, unicast := Reply(q, r, 5353)
	if resp == nil || unicast {
		t.Fatalf("a browse from port 5353 gets a multicast answer, got %v unicast=%v", resp, unicast)
	}
	got := roundTrip(t, resp)
	if !got.Header.Response || !got.Header.Authoritative || got.Header.ID != 0 || len(got.Questions) != 0 {
		t.Fatalf("mDNS response header: %+v, %d questions", got.Header, len(got.Questions))
	}
	if len(got.Answers) != 1 || got.Answers[0].Header.Type != dnsmessage.TypePTR ||
		got.Answers[0].Body.(*dnsmessage.PTRResource).PTR.String() != "reachy_mini._reachy-mini._tcp.local." ||
		got.Answers[0].Header.Class != dnsmessage.ClassINET || got.Answers[0].Header.TTL != 4500 {
		t.Fatalf("answer: %+v", got.Answers)
	}
	types := map[dnsmessage.Type]dnsmessage.Resource{}
	for _, x := range got.Additionals {
		types[x.Header.Type] = x
		if x.Header.Class != dnsmessage.ClassINET|cacheFlush {
			t.Errorf("%v is unique: cache-flush bit expected, class %#x", x.Header.Type, uint16(x.Header.Class))
		}
	}
	srv, ok := types[dnsmessage.TypeSRV].Body.(*dnsmessage.SRVResource)
	if !ok || srv.Port != 8000 || srv.Target.String() != "reachy-mini.local." || types[dnsmessage.TypeSRV].Header.TTL != 120 {
		t.Fatalf("SRV additional: %+v", types[dnsmessage.TypeSRV])
	}
	txt, ok := types[dnsmessage.TypeTXT].Body.(*dnsmessage.TXTResource)
	if !ok || !slices.Contains(txt.TXT, "robot_name=reachy_mini") || !slices.Contains(txt.TXT, "ws_path=/ws/sdk") {
		t.Fatalf("TXT additional: %+v", types[dnsmessage.TypeTXT])
	}
	a, ok := types[dnsmessage.TypeA].Body.(*dnsmessage.AResource)
	if !ok || netip.AddrFrom4(a.A).String() != "10.0.0.2" || types[dnsmessage.TypeA].Header.Name.String() != "reachy-mini.local." {
		t.Fatalf("A additional: %+v", types[dnsmessage.TypeA])
	}
}

func TestReplyLegacyUnicast(t *testing.T) {
	r := testRecords(t, "reachy_mini")
	q := &dnsmessage.Message{Header: dnsmessage.Header{ID: 4242},
		Questions: []dnsmessage.Question{question("reachy_mini._reachy-mini._tcp.local.", dnsmessage.TypeSRV, false)}}
	resp, unicast := Reply(q, r, 40000)
	if resp == nil || !unicast {
		t.Fatal("a query from another port than 5353 is answered to its sender")
	}
	got := roundTrip(t, resp)
	if got.Header.ID != 4242 || len(got.Questions) != 1 {
		t.Fatalf("legacy answer keeps the ID and the question: %+v", got)
	}
	for _, x := range append(got.Answers, got.Additionals...) {
		if x.Header.TTL > 10 || x.Header.Class&cacheFlush != 0 {
			t.Fatalf("legacy answer record %v: TTL %d class %#x", x.Header.Type, x.Header.TTL, uint16(x.Header.Class))
		}
	}
	if got.Answers[0].Header.Type != dnsmessage.TypeSRV || got.Additionals[0].Header.Type != dnsmessage.TypeA {
		t.Fatalf("SRV with the A record as additional: %+v", got)
	}
}

func TestReplyQuestions(t *testing.T) {
	r := testRecords(t, "Bob.v2")
	ask := func(qs ...dnsmessage.Question) *dnsmessage.Message {
		resp, _ := Reply(&dnsmessage.Message{Questions: qs}, r, 5353)
		return resp
	}
	// The reference's resolver writes a dotted instance as several
	// labels; the name still matches, case-insensitively.
	if resp := ask(question("BOB.v2._reachy-mini._tcp.local.", dnsmessage.TypeTXT, true)); resp == nil || resp.Answers[0].Header.Type != dnsmessage.TypeTXT {
		t.Fatalf("TXT of a dotted instance: %+v", resp)
	}
	if resp := ask(question("Bob.v2._reachy-mini._tcp.local.", dnsmessage.TypeALL, false)); resp == nil || len(resp.Answers) != 2 {
		t.Fatalf("ANY on the instance gives SRV and TXT: %+v", resp)
	}
	if resp := ask(question("reachy-mini.local.", dnsmessage.TypeA, false)); resp == nil || len(resp.Answers) != 1 {
		t.Fatalf("A of the host name: %+v", resp)
	}
	if resp := ask(question("_services._dns-sd._udp.local.", dnsmessage.TypePTR, false)); resp == nil ||
		resp.Answers[0].Body.(*dnsmessage.PTRResource).PTR.String() != ServiceType {
		t.Fatalf("service type enumeration: %+v", resp)
	}
	for _, q := range []dnsmessage.Question{
		question("_http._tcp.local.", dnsmessage.TypePTR, false),
		question("reachy-mini.local.", dnsmessage.TypeAAAA, false),
		question("other._reachy-mini._tcp.local.", dnsmessage.TypeSRV, false),
	} {
		if resp := ask(q); resp != nil {
			t.Errorf("%v %v: nothing to say, got %+v", q.Name, q.Type, resp)
		}
	}
	// Responses and non-zero opcodes are not queries.
	if resp, _ := Reply(&dnsmessage.Message{Header: dnsmessage.Header{Response: true},
		Questions: []dnsmessage.Question{question(ServiceType, dnsmessage.TypePTR, false)}}, r, 5353); resp != nil {
		t.Error("a response is not answered")
	}
}

func TestKnownAnswerSuppression(t *testing.T) {
	r := testRecords(t, "reachy_mini")
	known := r.PTR
	q := &dnsmessage.Message{Questions: []dnsmessage.Question{question(ServiceType, dnsmessage.TypePTR, false)},
		Answers: []dnsmessage.Resource{known}}
	if resp, _ := Reply(q, r, 5353); resp != nil {
		t.Fatalf("a querier that knows the PTR with its full TTL gets nothing: %+v", resp)
	}
	known.Header.TTL = 100 // under half of 4500: about to expire
	q.Answers = []dnsmessage.Resource{known}
	if resp, _ := Reply(q, r, 5353); resp == nil {
		t.Fatal("a known answer under half its TTL is answered again")
	}
}

func TestAnnouncementAndGoodbye(t *testing.T) {
	r := testRecords(t, "reachy_mini")
	ann := roundTrip(t, Announcement(r, false))
	if len(ann.Answers) != 4 {
		t.Fatalf("announcement: PTR, SRV, TXT, A; got %d records", len(ann.Answers))
	}
	bye := roundTrip(t, Announcement(r, true))
	if len(bye.Answers) != 3 {
		t.Fatalf("goodbye: PTR, SRV, TXT (not the host's A); got %d", len(bye.Answers))
	}
	for _, x := range bye.Answers {
		if x.Header.TTL != 0 {
			t.Fatalf("goodbye record %v with TTL %d", x.Header.Type, x.Header.TTL)
		}
	}
	if r.PTR.Header.TTL != 4500 {
		t.Fatal("the goodbye must not change the records themselves")
	}
	p := roundTrip(t, Probe(r))
	if len(p.Questions) != 2 || p.Questions[0].Type != dnsmessage.TypeALL || len(p.Authorities) != 3 || p.Header.Response {
		t.Fatalf("probe: %+v", p)
	}
}

func TestExamineConflicts(t *testing.T) {
	r := testRecords(t, "reachy_mini")
	own := func(a [4]byte) bool { return netip.AddrFrom4(a).String() == "10.0.0.9" }
	resp := func(rs ...dnsmessage.Resource) *dnsmessage.Message {
		return &dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Answers: rs}
	}
	other := testRecords(t, "reachy_mini") // same name, another robot:
	other.SRV.Body = &dnsmessage.SRVResource{Port: 8000, Target: dnsmessage.MustNewName("reachy-mini-2.local.")}
	if d := Examine(resp(other.SRV), r, own, false); !d.Instance || d.Host {
		t.Fatalf("another SRV for our instance: %+v", d)
	}
	if d := Examine(resp(r.SRV, r.TXT, r.PTR), r, own, false); d != (Dispute{}) {
		t.Fatalf("our own records heard back: %+v", d)
	}
	bye := other.SRV
	bye.Header.TTL = 0
	if d := Examine(resp(bye), r, own, false); d != (Dispute{}) {
		t.Fatalf("a goodbye is no claim: %+v", d)
	}
	foreign := r.A[0]
	foreign.Body = &dnsmessage.AResource{A: [4]byte{192, 168, 7, 7}}
	if d := Examine(resp(foreign), r, own, false); !d.Host || d.Instance {
		t.Fatalf("another host's address under our host name: %+v", d)
	}
	mine := r.A[0]
	mine.Body = &dnsmessage.AResource{A: [4]byte{10, 0, 0, 9}}
	if d := Examine(resp(mine), r, own, false); d != (Dispute{}) {
		t.Fatalf("our host name with another of our addresses (avahi on this host): %+v", d)
	}

	// Simultaneous probes: the lexicographically later data wins.
	probe := func(rs ...dnsmessage.Resource) *dnsmessage.Message {
		return &dnsmessage.Message{Questions: []dnsmessage.Question{question(r.Instance, dnsmessage.TypeALL, false)}, Authorities: rs}
	}
	higher := r.SRV
	higher.Body = &dnsmessage.SRVResource{Port: 9000, Target: dnsmessage.MustNewName("reachy-mini.local.")}
	lower := r.SRV
	lower.Body = &dnsmessage.SRVResource{Port: 7000, Target: dnsmessage.MustNewName("reachy-mini.local.")}
	if d := Examine(probe(higher, r.TXT), r, own, true); !d.Lost {
		t.Fatalf("a probe with later data wins: %+v", d)
	}
	if d := Examine(probe(lower, r.TXT), r, own, true); d.Lost {
		t.Fatalf("a probe with earlier data loses: %+v", d)
	}
	if d := Examine(probe(r.SRV, r.TXT), r, own, true); d.Lost {
		t.Fatalf("identical probes are no conflict: %+v", d)
	}
	if d := Examine(probe(higher, r.TXT), r, own, false); d.Lost {
		t.Fatalf("probes matter only while probing: %+v", d)
	}
}

func TestTieBreakRFCOrder(t *testing.T) {
	a := func(b byte) dnsmessage.Resource {
		return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("h.local."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET},
			Body: &dnsmessage.AResource{A: [4]byte{169, 254, 99, b}}}
	}
	// Data compares bytewise: 169.254.99.200 beats 169.254.99.50.
	if tieBreak([]dnsmessage.Resource{a(200)}, []dnsmessage.Resource{a(50)}) <= 0 {
		t.Fatal("larger data wins")
	}
	if tieBreak([]dnsmessage.Resource{a(1)}, []dnsmessage.Resource{a(1), a(2)}) >= 0 {
		t.Fatal("the list that runs out first loses")
	}
	if tieBreak([]dnsmessage.Resource{a(2), a(1)}, []dnsmessage.Resource{a(1), a(2)}) != 0 {
		t.Fatal("lists are sorted before comparing")
	}
}

func iface(idx int, name string, flags string, addrs ...string) Iface {
	i := Iface{Index: idx, Name: name, Up: strings.Contains(flags, "u"), Multicast: strings.Contains(flags, "m"), Loopback: strings.Contains(flags, "l")}
	for _, a := range addrs {
		i.Addrs = append(i.Addrs, netip.MustParseAddr(a))
	}
	return i
}

var testIfs = []Iface{
	iface(1, "lo", "ul", "127.0.0.1", "::1"),
	iface(2, "eth0", "um", "192.168.1.5"),
	iface(3, "wlan0", "um", "fe80::1", "10.0.0.2", "10.0.0.3"),
	iface(4, "docker0", "m", "172.17.0.1"),  // down
	iface(5, "tun0", "u", "10.8.0.1"),       // no multicast
	iface(6, "eth1", "um", "fd00::5"),       // no IPv4
	iface(7, "lo2", "uml", "127.0.0.2"),     // loopback with multicast
	iface(8, "usb0", "um", "169.254.10.10"), // link-local IPv4 counts
}

func names(sel []Advertised) string {
	var out []string
	for _, s := range sel {
		var as []string
		for _, a := range s.Addrs {
			as = append(as, a.String())
		}
		out = append(out, s.Name+"="+strings.Join(as, ","))
	}
	return strings.Join(out, " ")
}

func TestSelectInterfaces(t *testing.T) {
	for _, c := range []struct {
		host   string
		forced []string
		want   string
		why    string
	}{
		{"0.0.0.0", nil, "eth0=192.168.1.5 wlan0=10.0.0.2,10.0.0.3 usb0=169.254.10.10", ""},
		{"::", nil, "eth0=192.168.1.5 wlan0=10.0.0.2,10.0.0.3 usb0=169.254.10.10", ""},
		{"10.0.0.3", nil, "wlan0=10.0.0.3", ""},
		{"127.0.0.1", nil, "", "loopback"},
		{"localhost", nil, "", "loopback"},
		{"::1", nil, "", "loopback"},
		{"fd00::5", nil, "", "IPv4 only"},
		{"10.8.0.1", nil, "", "without multicast"},
		{"172.17.0.1", nil, "", "down"},
		{"10.9.9.9", nil, "", "no interface holds"},
		{"127.0.0.1", []string{"eth0", "nope"}, "eth0=192.168.1.5", ""},
		{"10.0.0.3", []string{"wlan0"}, "wlan0=10.0.0.3", ""},
		{"0.0.0.0", []string{"tun0", "docker0"}, "", "none of the interfaces"},
	} {
		b, err := ParseBinding(c.host, c.forced)
		if err != nil {
			t.Fatalf("%s: %v", c.host, err)
		}
		sel, why := Select(b, testIfs)
		if names(sel) != c.want || (c.why != "" && !strings.Contains(why, c.why)) || (c.why == "" && why != "") {
			t.Errorf("Select(%s, %v) = %q (%q), want %q (%q)", c.host, c.forced, names(sel), why, c.want, c.why)
		}
	}
}

func TestParseBinding(t *testing.T) {
	for host, want := range map[string]string{
		"": "all", "0.0.0.0": "all", "::": "all", "[::]": "all",
		"localhost": "loopback", "127.0.0.1": "loopback", "::1": "loopback", "[::1]": "loopback",
		"10.0.0.2": "10.0.0.2", "::ffff:10.0.0.2": "10.0.0.2",
	} {
		b, err := ParseBinding(host, nil)
		got := b.Addr.String()
		switch {
		case err != nil:
			got = err.Error()
		case b.All:
			got = "all"
		case b.Loopback():
			got = "loopback"
		}
		if got != want {
			t.Errorf("ParseBinding(%q) = %s, want %s", host, got, want)
		}
	}
	if _, err := ParseBinding("robot.local", nil); err == nil {
		t.Error("a host name is for the caller to resolve")
	}
	if b, _ := ParseBinding("127.0.0.1", []string{"eth0"}); b.Loopback() {
		t.Error("forced interfaces advertise even on a loopback bind")
	}
}

func TestWirelessIPv4(t *testing.T) {
	noSys := func(string) bool { return false }
	ifs := []Iface{
		iface(2, "eth0", "um", "192.168.1.5"),
		iface(4, "wlan1", "um", "10.1.0.2"),
		iface(3, "wlan0", "um", "fe80::1", "10.0.0.2", "10.0.0.3"),
	}
	if got := WirelessIPv4(ifs, noSys); got != "10.0.0.2" {
		t.Errorf("wlan0's primary IPv4 first, got %q", got)
	}
	ifs[2].Up = false
	if got := WirelessIPv4(ifs, noSys); got != "10.1.0.2" {
		t.Errorf("wlan0 down: the next wireless interface, got %q", got)
	}
	wlp := []Iface{iface(2, "eth0", "um", "192.168.1.5"), iface(5, "wlp2s0", "um", "10.5.0.9")}
	if got := WirelessIPv4(wlp, noSys); got != "" {
		t.Errorf("wlp2s0 unknown as wireless: none, got %q", got)
	}
	if got := WirelessIPv4(wlp, func(n string) bool { return n == "wlp2s0" }); got != "10.5.0.9" {
		t.Errorf("wlp2s0 wireless by sysfs, got %q", got)
	}
	if got := WirelessIPv4([]Iface{iface(3, "wlan0", "um", "fe80::1")}, noSys); got != "" {
		t.Errorf("wlan0 without IPv4: none, got %q", got)
	}
	if SysWireless("../../etc") || SysWireless("") {
		t.Error("SysWireless must not look outside /sys/class/net")
	}
}

func TestWlanIPCache(t *testing.T) {
	now := time.Unix(1000, 0)
	calls := 0
	addr := "10.0.0.2"
	var fail error
	w := &WlanIP{TTL: 3 * time.Second, Now: func() time.Time { return now }, Wireless: func(string) bool { return false },
		List: func() ([]Iface, error) {
			calls++
			if fail != nil {
				return nil, fail
			}
			return []Iface{iface(3, "wlan0", "um", addr)}, nil
		}}
	if w.Get() != "10.0.0.2" || w.Get() != "10.0.0.2" || calls != 1 {
		t.Fatalf("within the TTL the answer is cached: %d reads", calls)
	}
	addr = "10.0.0.7"
	now = now.Add(3 * time.Second)
	if got := w.Get(); got != "10.0.0.7" || calls != 2 {
		t.Fatalf("after the TTL the interfaces are read again: %q, %d reads", got, calls)
	}
	fail = errors.New("netlink busy")
	now = now.Add(4 * time.Second)
	if got := w.Get(); got != "10.0.0.7" || calls != 3 {
		t.Fatalf("a failed read keeps the last answer: %q, %d reads", got, calls)
	}
}

// FuzzReply feeds arbitrary packets, as the network may, through what the
// responder does with one: parse, check for conflicts, answer. Nothing may
// panic, and an answer must pack.
func FuzzReply(f *testing.F) {
	r := testRecords(f, "reachy_mini")
	for _, m := range []*dnsmessage.Message{
		{Questions: []dnsmessage.Question{question(ServiceType, dnsmessage.TypePTR, true)}},
		{Questions: []dnsmessage.Question{question(r.Instance, dnsmessage.TypeALL, false)}, Answers: []dnsmessage.Resource{r.PTR}},
		Probe(r), Announcement(r, false), Announcement(r, true),
	} {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(5353))
		f.Add(b, uint16(40000))
	}
	own := func([4]byte) bool { return false }
	f.Fuzz(func(t *testing.T, data []byte, port uint16) {
		var m dnsmessage.Message
		if err := m.Unpack(data); err != nil {
			return
		}
		_ = Examine(&m, r, own, true)
		_ = Examine(&m, r, own, false)
		resp, _ := Reply(&m, r, int(port))
		if resp != nil {
			if _, err := resp.Pack(); err != nil {
				t.Fatalf("answer does not pack: %v", err)
			}
		}
	})
}
