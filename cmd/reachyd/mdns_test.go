package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/mdns"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"

	"reachyd/discovery"
	"reachyd/hw"
	"reachyd/internal/deathsig"
)

// The mDNS tests run reachyd and the resolvers in a network namespace of
// their own, on veth pairs whose both ends stay in it: every packet stays
// in the namespace (the kernel also loops multicast back to the
// namespace's own sockets). Dummy interfaces would do as well where the
// kernel has them.

// mdnsNetns makes the namespace: d0 (10.99.0.1/24, where multicast is
// routed), wlan0 (10.99.1.1/24, a stand-in for the Wi-Fi interface) and d1
// (10.99.2.1/24), each the end of a veth pair (peers p0, p1, p2).
func mdnsNetns(t *testing.T) string {
	t.Helper()
	ns := newNetns(t)
	var cmds [][]string
	for i, l := range []struct{ name, addr string }{{"d0", "10.99.0.1/24"}, {"wlan0", "10.99.1.1/24"}, {"d1", "10.99.2.1/24"}} {
		peer := fmt.Sprintf("p%d", i)
		cmds = append(cmds,
			[]string{"ip", "link", "add", l.name, "type", "veth", "peer", "name", peer},
			[]string{"ip", "link", "set", l.name, "multicast", "on", "up"},
			[]string{"ip", "link", "set", peer, "up"},
			[]string{"ip", "addr", "add", l.addr, "dev", l.name})
	}
	cmds = append(cmds, []string{"ip", "route", "add", "224.0.0.0/4", "dev", "d0"})
	for _, cmd := range cmds {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, cmd...)...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, out)
		}
	}
	return ns
}

// startNetnsDaemon runs reachyd (the test binary re-executed) inside ns on
// the simulator, and waits until its API answers at api.
func startNetnsDaemon(t *testing.T, ns, api string, args ...string) *lockedBuffer {
	t.Helper()
	all := append([]string{"netns", "exec", ns, os.Args[0], "--backend", "sim", "--data-dir", t.TempDir(), "--log-level", "INFO",
		"--no-goto-sleep-on-stop", "--no-wake-up-on-start", "--uds", "", "--topics-port", "0", "--no-skill-host",
		"--rtsp-port", "0", "--camera", "none", "--no-media", "--webrtc-port", "0"}, args...)
	cmd := exec.Command("ip", all...)
	cmd.Env = append(os.Environ(), asDaemon+"=1")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("reachyd said:\n%s", logs.String())
		}
	})
	client := netnsClient(ns)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + api + "/api/daemon/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return logs
			}
		}
		select {
		case <-exited:
			t.Fatalf("reachyd exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("reachyd's API never answered at %s: %v", api, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// browseGo resolves _reachy-mini._tcp with hashicorp/mdns's client from
// inside ns, its query sent on ifname (the default multicast route when
// empty). It waits one second for answers.
func browseGo(t *testing.T, ns, ifname string) map[string]*mdns.ServiceEntry {
	t.Helper()
	ch := make(chan *mdns.ServiceEntry, 32)
	err := inNetns(ns, func() error {
		var ifi *net.Interface
		if ifname != "" {
			var err error
			if ifi, err = net.InterfaceByName(ifname); err != nil {
				return err
			}
		}
		return mdns.QueryContext(context.Background(), &mdns.QueryParam{Service: "_reachy-mini._tcp", Domain: "local",
			Timeout: time.Second, Entries: ch, DisableIPv6: true, Interface: ifi, Logger: log.New(io.Discard, "", 0)})
	})
	if err != nil {
		t.Fatalf("mDNS query: %v", err)
	}
	close(ch)
	out := map[string]*mdns.ServiceEntry{}
	for e := range ch {
		out[e.Name] = e
	}
	return out
}

// waitBrowse browses until want (an instance name) is found, or fails.
func waitBrowse(t *testing.T, ns, ifname, want string) (*mdns.ServiceEntry, map[string]*mdns.ServiceEntry) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		seen := browseGo(t, ns, ifname)
		if e := seen[want]; e != nil {
			return e, seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never resolved; seen %v", want, seen)
		}
	}
}

// mdnsWatch records the mDNS responses multicast on one interface of ns:
// what every browser on that link hears, goodbyes and announcements
// included.
type mdnsWatch struct {
	mu   sync.Mutex
	seen []dnsmessage.Message
}

func watchMDNS(t *testing.T, ns, ifname string) *mdnsWatch {
	t.Helper()
	w := &mdnsWatch{}
	var conn *net.UDPConn
	if err := inNetns(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		conn, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 9000)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) == nil && m.Header.Response {
				w.mu.Lock()
				w.seen = append(w.seen, m)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// ptrTTL returns the TTL of the PTR record for instance in a response.
func ptrTTL(m dnsmessage.Message, instance string) (uint32, bool) {
	for _, r := range m.Answers {
		if p, ok := r.Body.(*dnsmessage.PTRResource); ok && strings.EqualFold(p.PTR.String(), instance) {
			return r.Header.TTL, true
		}
	}
	return 0, false
}

// waitSeq waits until the recorded responses contain, in order, one
// matching each predicate.
func (w *mdnsWatch) waitSeq(t *testing.T, what string, preds ...func(dnsmessage.Message) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		w.mu.Lock()
		i := 0
		for _, m := range w.seen {
			if i < len(preds) && preds[i](m) {
				i++
			}
		}
		n := len(w.seen)
		w.mu.Unlock()
		if i == len(preds) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never heard %s (%d responses heard)", what, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCount waits until at least n recorded responses match pred.
func (w *mdnsWatch) waitCount(t *testing.T, what string, n int, pred func(dnsmessage.Message) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		w.mu.Lock()
		c := 0
		for _, m := range w.seen {
			if pred(m) {
				c++
			}
		}
		w.mu.Unlock()
		if c >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heard %s %d times, want %d", what, c, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queryOneShot sends a one-shot ("legacy unicast") mDNS query for name and
// type out of ifname in ns, from an ephemeral port, and returns the records
// of the answers sent back to that port within one second: unlike a
// browser's, the socket hears no multicast, so only direct answers count.
func queryOneShot(t *testing.T, ns, ifname, name string, typ dnsmessage.Type) []dnsmessage.Resource {
	t.Helper()
	var conn *net.UDPConn
	if err := inNetns(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		if conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero}); err != nil {
			return err
		}
		return ipv4.NewPacketConn(conn).SetMulticastInterface(ifi)
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := dnsmessage.Message{Header: dnsmessage.Header{ID: 77},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}}}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteToUDP(b, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}); err != nil {
		t.Fatal(err)
	}
	var out []dnsmessage.Resource
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 9000)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return out
		}
		var m dnsmessage.Message
		if m.Unpack(buf[:n]) == nil && m.Header.Response && m.Header.ID == 77 {
			out = append(out, m.Answers...)
			out = append(out, m.Additionals...)
		}
	}
}

func aRecords(rs []dnsmessage.Resource) []string {
	var out []string
	for _, r := range rs {
		if a, ok := r.Body.(*dnsmessage.AResource); ok {
			out = append(out, net.IP(a.A[:]).String())
		}
	}
	return out
}

func goodbyeOf(instance string) func(dnsmessage.Message) bool {
	return func(m dnsmessage.Message) bool { ttl, ok := ptrTTL(m, instance); return ok && ttl == 0 }
}

func announceOf(instance string) func(dnsmessage.Message) bool {
	return func(m dnsmessage.Message) bool { ttl, ok := ptrTTL(m, instance); return ok && ttl > 0 }
}

func wantTXT(name, address, model string) []string {
	txt := []string{"version=" + APIVersion, "robot_name=" + name, "ws_path=/ws/sdk", "address=" + address,
		"model=" + model, "manufacturer=Pollen Robotics", "caps=camera,mic,speaker,motion,apps", "api=rest+ws"}
	if id := hw.HardwareID(); id != "" {
		txt = append(txt, "unit_id="+id)
	}
	return txt
}

func hostLocal(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h + ".local."
}

// TestMDNSWirelessAllInterfaces: a Wireless robot's daemon (bound to
// 0.0.0.0) is found by a Go resolver and by the SDK's own resolver
// (python-zeroconf), with the reference's instance name, port and TXT
// records; wlan_ip is the Wi-Fi address; a rename says goodbye for the old
// name and announces the new one, which resolves while the old does not.
func TestMDNSWirelessAllInterfaces(t *testing.T) {
	t.Parallel()
	ns := mdnsNetns(t)
	startNetnsDaemon(t, ns, "10.99.0.1:8000", "--wireless-version", "--fastapi-port", "8000", "--robot-name", "bench_robot")
	client := netnsClient(ns)

	var st struct {
		WlanIP    *string `json:"wlan_ip"`
		RobotName string  `json:"robot_name"`
	}
	getJSONIn(t, client, "http://10.99.0.1:8000/api/daemon/status", &st)
	if st.WlanIP == nil || *st.WlanIP != "10.99.1.1" {
		t.Fatalf("wlan_ip = %v, want wlan0's 10.99.1.1", st.WlanIP)
	}

	watch := watchMDNS(t, ns, "d0")
	const oldInst, newInst = "bench_robot._reachy-mini._tcp.local.", "lab_robot._reachy-mini._tcp.local."
	// Browsers also take in the announcements (three per interface, heard
	// here from every interface): let them pass, so that what follows
	// are answers to queries.
	watch.waitCount(t, "the announcements", 9, announceOf(oldInst))
	e, _ := waitBrowse(t, ns, "", oldInst)
	if e.Port != 8000 || e.AddrV4.String() != "10.99.0.1" || e.Host != hostLocal(t) {
		t.Fatalf("resolved %s at %s:%d (%s), want 10.99.0.1:8000 on %s", e.Name, e.AddrV4, e.Port, e.Host, hostLocal(t))
	}
	if want := wantTXT("bench_robot", "10.99.0.1", "Reachy Mini Wireless"); !slices.Equal(e.InfoFields, want) {
		t.Fatalf("TXT records:\n got %q\nwant %q", e.InfoFields, want)
	}
	// Each interface's answer carries that interface's address.
	for ifname, want := range map[string]string{"d0": "10.99.0.1", "wlan0": "10.99.1.1", "d1": "10.99.2.1"} {
		if got := aRecords(queryOneShot(t, ns, ifname, oldInst, dnsmessage.TypeSRV)); !slices.Equal(got, []string{want}) {
			t.Fatalf("SRV asked on %s: A records %v, want %s", ifname, got, want)
		}
	}

	// Rename through the API, as the desktop app and BLE setup do.
	body := strings.NewReader(`{"name":"lab_robot"}`)
	resp, err := client.Post("http://10.99.0.1:8000/api/daemon/robot-name", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rename: %d", resp.StatusCode)
	}
	watch.waitSeq(t, "the goodbye for the old name, then the new name's announcement", goodbyeOf(oldInst), announceOf(newInst))
	watch.waitCount(t, "the new name's announcements", 9, announceOf(newInst))
	if rs := queryOneShot(t, ns, "d0", oldInst, dnsmessage.TypeSRV); len(rs) != 0 {
		t.Fatalf("the old name is still answered: %v", rs)
	}
	e, seen := waitBrowse(t, ns, "", newInst)
	if seen[oldInst] != nil {
		t.Fatalf("the old name still resolves after the rename: %v", seen)
	}
	if want := wantTXT("lab_robot", "10.99.0.1", "Reachy Mini Wireless"); !slices.Equal(e.InfoFields, want) {
		t.Fatalf("TXT records after the rename:\n got %q\nwant %q", e.InfoFields, want)
	}

	// The SDK's own resolver.
	robots := findRobotsPython(t, ns)
	if robots == nil {
		return
	}
	var found *pyRobot
	for i, r := range robots {
		if r.Instance == oldInst {
			t.Fatalf("python-zeroconf still finds the old name: %+v", robots)
		}
		if r.Instance == newInst {
			found = &robots[i]
		}
	}
	// This resolver listens on the three links at once (no real client
	// does), and each link's answer carries its own address: it keeps
	// some of them, all the robot's.
	ours := []string{"10.99.0.1", "10.99.1.1", "10.99.2.1"}
	if found == nil || found.Name != "lab_robot" || found.Port != 8000 || found.Host != hostLocal(t) || !found.Alive ||
		len(found.Addresses) == 0 || slices.ContainsFunc(found.Addresses, func(a string) bool { return !slices.Contains(ours, a) }) ||
		found.Properties["model"] != "Reachy Mini Wireless" ||
		found.Properties["ws_path"] != "/ws/sdk" || found.Properties["address"] != "10.99.0.1" {
		t.Fatalf("python-zeroconf (the SDK's find_robots) found %+v", robots)
	}
}

// TestMDNSBoundToOneAddress: bound to d0's address, the daemon answers on
// d0 with that address only, and stays silent on the other interfaces;
// without --wireless-version wlan_ip stays null although a wlan0 exists.
func TestMDNSBoundToOneAddress(t *testing.T) {
	t.Parallel()
	ns := mdnsNetns(t)
	startNetnsDaemon(t, ns, "10.99.0.1:8000", "--fastapi-host", "10.99.0.1", "--fastapi-port", "8000")
	var st struct {
		WlanIP *string `json:"wlan_ip"`
	}
	getJSONIn(t, netnsClient(ns), "http://10.99.0.1:8000/api/daemon/status", &st)
	if st.WlanIP != nil {
		t.Fatalf("wlan_ip = %q without --wireless-version, want null as the reference", *st.WlanIP)
	}
	const inst = "reachy_mini._reachy-mini._tcp.local."
	watch := watchMDNS(t, ns, "d0")
	// Other mDNS stacks on the host join the group on every interface:
	// the responder must still ignore what arrives on d1 and wlan0.
	watchMDNS(t, ns, "d1")
	watchMDNS(t, ns, "wlan0")
	watch.waitCount(t, "the announcements", 3, announceOf(inst))
	e, _ := waitBrowse(t, ns, "d0", inst)
	if e.AddrV4.String() != "10.99.0.1" || e.Port != 8000 {
		t.Fatalf("resolved at %s:%d", e.AddrV4, e.Port)
	}
	if want := wantTXT("reachy_mini", "10.99.0.1", "Reachy Mini Lite"); !slices.Equal(e.InfoFields, want) {
		t.Fatalf("TXT records:\n got %q\nwant %q", e.InfoFields, want)
	}
	if got := aRecords(queryOneShot(t, ns, "d0", inst, dnsmessage.TypeSRV)); !slices.Equal(got, []string{"10.99.0.1"}) {
		t.Fatalf("asked on d0: A records %v", got)
	}
	for _, other := range []string{"d1", "wlan0"} {
		if rs := queryOneShot(t, ns, other, discovery.ServiceType, dnsmessage.TypePTR); len(rs) != 0 {
			t.Fatalf("answered on %s, where the API does not listen: %v", other, rs)
		}
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	for _, m := range watch.seen {
		for _, r := range m.Answers {
			if a, ok := r.Body.(*dnsmessage.AResource); ok && net.IP(a.A[:]).String() != "10.99.0.1" {
				t.Fatalf("announced an address the API does not listen on: %v", r)
			}
		}
	}
}

// TestMDNSOffOnLoopback: bound to loopback (the Lite default), and with
// --no-mdns, nothing is advertised; --mdns-interface forces it on one
// interface.
func TestMDNSOffOnLoopback(t *testing.T) {
	t.Parallel()
	ns := mdnsNetns(t)
	logs := startNetnsDaemon(t, ns, "127.0.0.1:8000", "--fastapi-port", "8000")
	logs2 := startNetnsDaemon(t, ns, "10.99.2.1:8001", "--fastapi-host", "10.99.2.1", "--fastapi-port", "8001", "--no-mdns")
	// The API answers before discovery starts: wait for the log lines.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "listens on loopback only") ||
		!strings.Contains(logs2.String(), "mDNS: off (--no-mdns)"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the logs must say why mDNS is off:\n%s\n%s", logs.String(), logs2.String())
		}
	}
	// --mdns-interface advertises on loopback-bound daemons too, there only.
	startNetnsDaemon(t, ns, "127.0.0.1:8002", "--fastapi-port", "8002", "--mdns-interface", "wlan0", "--robot-name", "forced")
	const forced = "forced._reachy-mini._tcp.local."
	deadline := time.Now().Add(15 * time.Second)
	var rs []dnsmessage.Resource
	for len(rs) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("--mdns-interface wlan0: never answered on wlan0")
		}
		rs = queryOneShot(t, ns, "wlan0", forced, dnsmessage.TypeSRV)
	}
	if _, port := srvOf(rs); port != 8002 || !slices.Equal(aRecords(rs), []string{"10.99.1.1"}) {
		t.Fatalf("--mdns-interface wlan0: SRV port %d, A %v", port, aRecords(rs))
	}
	if rs := queryOneShot(t, ns, "d0", forced, dnsmessage.TypeSRV); len(rs) != 0 {
		t.Fatalf("--mdns-interface wlan0 answered on d0: %v", rs)
	}
	// By now (the forced daemon probed and announced) a responder started
	// by mistake on the first two would answer too.
	for _, ifname := range []string{"d0", "d1"} {
		if rs := queryOneShot(t, ns, ifname, discovery.ServiceType, dnsmessage.TypePTR); len(rs) != 0 {
			t.Fatalf("answered on %s: %v", ifname, rs)
		}
	}
}

func getJSONIn(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

type pyRobot struct {
	Instance   string            `json:"instance"`
	Unresolved bool              `json:"unresolved"`
	Name       string            `json:"name"`
	Host       string            `json:"host"`
	Port       int               `json:"port"`
	Addresses  []string          `json:"addresses"`
	Properties map[string]string `json:"properties"`
	Alive      bool              `json:"alive"`
}

// findRobotsPython runs testdata/find_robots.py (the SDK's find_robots,
// on python-zeroconf) inside ns. It returns nil, after logging why, where
// python-zeroconf is not installed (Debian: python3-zeroconf).
func findRobotsPython(t *testing.T, ns string) []pyRobot {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import zeroconf").Run(); err != nil {
		if os.Getenv("REACHYD_REQUIRE_MDNS_TOOLS") != "" {
			t.Fatalf("python3-zeroconf is required here: %v", err)
		}
		t.Logf("python-zeroconf part skipped: %v (Debian: python3-zeroconf)", err)
		return nil
	}
	var out, errb bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", ns, py, "testdata/find_robots.py", "3")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("find_robots.py: %v\n%s", err, errb.String())
	}
	var robots []pyRobot
	if err := json.Unmarshal(out.Bytes(), &robots); err != nil {
		t.Fatalf("find_robots.py printed %q: %v\n%s", out.String(), err, errb.String())
	}
	return robots
}

// linkNetns joins two namespaces with a veth pair: a0 (10.98.0.1/24) in
// a, b0 (10.98.0.2/24) in b, multicast routed over it on both sides.
func linkNetns(t *testing.T, a, b string) {
	t.Helper()
	for _, cmd := range [][]string{
		{"ip", "link", "add", "a0", "netns", a, "type", "veth", "peer", "name", "b0", "netns", b},
		{"ip", "netns", "exec", a, "ip", "link", "set", "a0", "multicast", "on", "up"},
		{"ip", "netns", "exec", b, "ip", "link", "set", "b0", "multicast", "on", "up"},
		{"ip", "netns", "exec", a, "ip", "addr", "add", "10.98.0.1/24", "dev", "a0"},
		{"ip", "netns", "exec", b, "ip", "addr", "add", "10.98.0.2/24", "dev", "b0"},
		{"ip", "netns", "exec", a, "ip", "route", "add", "224.0.0.0/4", "dev", "a0"},
		{"ip", "netns", "exec", b, "ip", "route", "add", "224.0.0.0/4", "dev", "b0"},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", cmd, err, out)
		}
	}
}

func srvOf(rs []dnsmessage.Resource) (target string, port uint16) {
	for _, r := range rs {
		if s, ok := r.Body.(*dnsmessage.SRVResource); ok {
			return s.Target.String(), s.Port
		}
	}
	return "", 0
}

func txtOf(rs []dnsmessage.Resource) []string {
	for _, r := range rs {
		if s, ok := r.Body.(*dnsmessage.TXTResource); ok {
			return s.TXT
		}
	}
	return nil
}

// TestMDNSNameConflict: two robots with the same name (and, as robots
// ship, the same host name) on one link. The second one finds both names
// held and takes "<name>-2" and "<host>-2", as the reference's responder
// and avahi do; both resolve, each to its own address, with robot_name
// unchanged in TXT.
func TestMDNSNameConflict(t *testing.T) {
	t.Parallel()
	nsA, nsB := newNetns(t), newNetns(t)
	linkNetns(t, nsA, nsB)
	startNetnsDaemon(t, nsA, "10.98.0.1:8000", "--fastapi-host", "0.0.0.0", "--fastapi-port", "8000", "--robot-name", "twin")
	const first, second = "twin._reachy-mini._tcp.local.", "twin-2._reachy-mini._tcp.local."
	deadline := time.Now().Add(15 * time.Second)
	for aRecords(queryOneShot(t, nsB, "b0", first, dnsmessage.TypeSRV)) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the first robot never answered")
		}
	}
	logsB := startNetnsDaemon(t, nsB, "10.98.0.2:8000", "--fastapi-host", "0.0.0.0", "--fastapi-port", "8000", "--robot-name", "twin")
	var rs []dnsmessage.Resource
	for deadline = time.Now().Add(15 * time.Second); ; {
		if rs = queryOneShot(t, nsA, "a0", second, dnsmessage.TypeSRV); len(rs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second robot never advertised %s:\n%s", second, logsB.String())
		}
	}
	host := hostLocal(t)
	host2 := strings.TrimSuffix(host, ".local.") + "-2.local."
	if target, port := srvOf(rs); target != host2 || port != 8000 || !slices.Equal(aRecords(rs), []string{"10.98.0.2"}) {
		t.Fatalf("%s: SRV %s:%d, A %v; want %s:8000 at 10.98.0.2", second, target, port, aRecords(rs), host2)
	}
	if txt := queryOneShot(t, nsA, "a0", second, dnsmessage.TypeTXT); !slices.Contains(txtOf(txt), "robot_name=twin") {
		t.Fatalf("robot_name stays the robot's name: %q", txtOf(txt))
	}
	rs = queryOneShot(t, nsB, "b0", first, dnsmessage.TypeSRV)
	if target, _ := srvOf(rs); target != host || !slices.Equal(aRecords(rs), []string{"10.98.0.1"}) {
		t.Fatalf("%s must stay the first robot's: SRV %s, A %v", first, target, aRecords(rs))
	}
	if !strings.Contains(logsB.String(), "name conflict") {
		t.Fatalf("the second robot must log the conflict:\n%s", logsB.String())
	}
}

// startAvahi runs a private D-Bus system bus and avahi-daemon (browsing
// only, on d0) inside ns, and returns the environment avahi-browse needs.
// It skips where avahi is not installed.
func startAvahi(t *testing.T, ns string) []string {
	t.Helper()
	for _, tool := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("REACHYD_REQUIRE_MDNS_TOOLS") != "" {
				t.Fatalf("%s is required here: %v", tool, err)
			}
			t.Skipf("%s not installed (Debian: avahi-daemon, avahi-utils): %v", tool, err)
		}
	}
	dir := t.TempDir()
	bus := dir + "/bus"
	busConf := `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=` + bus + `</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`
	avahiConf := "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=d0\nenable-dbus=yes\n" +
		"[wide-area]\nenable-wide-area=no\n[publish]\ndisable-publishing=yes\ndisable-user-service-publishing=yes\n"
	if err := os.WriteFile(dir+"/bus.conf", []byte(busConf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/avahi.conf", []byte(avahiConf), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+bus)
	start := func(ready string, args ...string) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
		cmd.Env = env
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := deathsig.Start(cmd, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(out.String(), ready) {
			if time.Now().After(deadline) {
				t.Fatalf("%v never said %q:\n%s", args, ready, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	start("unix:path=", "dbus-daemon", "--config-file="+dir+"/bus.conf", "--nofork", "--print-address")
	// avahi keeps its pid file and socket in /run/avahi-daemon: a tmpfs
	// over /run in the mount namespace ip netns exec makes keeps them
	// apart from the host's.
	start("Server startup complete", "sh", "-c", "mount -t tmpfs tmpfs /run && exec avahi-daemon -f "+dir+
		"/avahi.conf --no-drop-root --no-chroot --no-rlimits --no-proc-title")
	return env
}

// avahiBrowse lists the resolved _reachy-mini._tcp services avahi knows,
// as avahi-browse's parsable lines split on ';'.
func avahiBrowse(t *testing.T, ns string, env []string) [][]string {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "avahi-browse", "--resolve", "--terminate", "--parsable", "_reachy-mini._tcp")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("avahi-browse: %v: %s", err, out)
	}
	var rows [][]string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "=;") {
			rows = append(rows, strings.Split(l, ";"))
		}
	}
	return rows
}

// TestMDNSAvahiBrowse: avahi, the resolver of Linux desktops, finds the
// robot with its TXT records, and after a rename lists the new name only:
// its cache dropped the old one on the goodbye (the PTR's TTL is 75 min).
func TestMDNSAvahiBrowse(t *testing.T) {
	t.Parallel()
	ns := mdnsNetns(t)
	env := startAvahi(t, ns)
	startNetnsDaemon(t, ns, "10.99.0.1:8000", "--fastapi-host", "10.99.0.1", "--fastapi-port", "8000", "--robot-name", "Bob's robot")
	watch := watchMDNS(t, ns, "d0")
	watch.waitCount(t, "the announcements", 3, announceOf("Bob's robot._reachy-mini._tcp.local."))
	rows := avahiBrowse(t, ns, env)
	// =;iface;proto;name;type;domain;host;address;port;txt
	if len(rows) != 1 || rows[0][1] != "d0" || rows[0][3] != `Bob\039s\032robot` || rows[0][6] != strings.TrimSuffix(hostLocal(t), ".") ||
		rows[0][7] != "10.99.0.1" || rows[0][8] != "8000" || !strings.Contains(rows[0][9], `"robot_name=Bob's robot"`) ||
		!strings.Contains(rows[0][9], `"ws_path=/ws/sdk"`) || !strings.Contains(rows[0][9], `"model=Reachy Mini Lite"`) {
		t.Fatalf("avahi-browse: %q", rows)
	}
	resp, err := netnsClient(ns).Post("http://10.99.0.1:8000/api/daemon/robot-name", "application/json", strings.NewReader(`{"name":"lab_robot"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	watch.waitCount(t, "the new name's announcements", 3, announceOf("lab_robot._reachy-mini._tcp.local."))
	rows = avahiBrowse(t, ns, env)
	if len(rows) != 1 || rows[0][3] != "lab_robot" || !strings.Contains(rows[0][9], `"robot_name=lab_robot"`) {
		t.Fatalf("after the rename avahi lists %q, want lab_robot only", rows)
	}
}
