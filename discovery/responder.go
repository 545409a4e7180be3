package discovery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
)

// Timings of probing, announcing and goodbyes (RFC 6762 8.1, 8.3, 10.1;
// the reference's responder uses the same orders of magnitude).
const (
	probeCount    = 3
	probeInterval = 250 * time.Millisecond
	announceCount = 3
	announceEvery = time.Second
	goodbyeGap    = 125 * time.Millisecond
	// After this many conflicts within conflictWindow, probes are spaced
	// by conflictBackoff (RFC 6762 8.1) so two misconfigured hosts do not
	// flood the link.
	conflictLimit   = 15
	conflictWindow  = 10 * time.Second
	conflictBackoff = 5 * time.Second
	// maxPacket bounds what is read: mDNS messages fit in one Ethernet
	// (jumbo) frame; anything larger is cut and then fails to parse.
	maxPacket = 9000
	// multicastBudget bounds the multicast responses per interface and
	// second, so a flood of queries is not amplified onto the link.
	multicastBudget = 20
)

var groupAddr = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}

// Config configures a Responder.
type Config struct {
	// Info is what the advertisement says; RobotName is the initial name.
	Info Info
	// Binding is where the API listens: it decides the interfaces.
	Binding Binding
	// List lists the host's interfaces (default Interfaces). It is read
	// at start and every Rescan: interfaces come and go (Wi-Fi joins late
	// at boot, DHCP renews).
	List func() ([]Iface, error)
	// Rescan is the interval between interface scans (default 5 s).
	Rescan time.Duration
	// Primary picks the address of the TXT record "address" among the
	// advertised ones (default: the one the host would send multicast
	// from, as the reference does, else the first).
	Primary func([]Advertised) netip.Addr
	Log     *slog.Logger
}

// Responder answers mDNS queries for the daemon's service on the selected
// interfaces and announces it. Its methods are safe for concurrent use.
type Responder struct {
	cfg  Config
	log  *slog.Logger
	pc   *ipv4.PacketConn
	raw  net.PacketConn
	in   chan packet
	ren  chan struct{} // a rename is pending (capacity 1)
	stop chan chan struct{}
	done chan struct{}

	mu       sync.Mutex
	instance string // current instance name, for Instance
	host     string
	pending  string // the last name given to Rename, not yet applied

	// Owned by the loop goroutine.
	name       string
	instN      int
	hostN      int
	ifs        map[int]*ifState
	own        map[[4]byte]bool
	primary    netip.Addr
	probing    bool
	probes     int
	nextProbe  time.Time
	published  bool // the current names were announced: a goodbye is due
	conflicts  []time.Time
	lastReason string
}

type ifState struct {
	adv          Advertised
	rec          *Records
	announceLeft int
	nextAnnounce time.Time
	budgetAt     time.Time
	budget       int
}

type packet struct {
	data    []byte
	ifIndex int
	src     *net.UDPAddr
}

// Start opens the mDNS socket (UDP 5353, shared with any other responder
// on the host) and starts probing for the names, then announcing them.
func Start(cfg Config) (*Responder, error) {
	if cfg.List == nil {
		cfg.List = Interfaces
	}
	if cfg.Rescan <= 0 {
		cfg.Rescan = 5 * time.Second
	}
	if cfg.Primary == nil {
		cfg.Primary = RoutePrimary
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	lc := net.ListenConfig{Control: controlReuse}
	raw, err := lc.ListenPacket(context.Background(), "udp4", ":5353")
	if err != nil {
		return nil, err
	}
	pc := ipv4.NewPacketConn(raw)
	for _, err := range []error{
		pc.SetControlMessage(ipv4.FlagInterface, true),
		pc.SetMulticastTTL(255),
		pc.SetTTL(255),
		pc.SetMulticastLoopback(true), // clients on this host (the SDK on the robot)
	} {
		if err != nil {
			raw.Close()
			return nil, err
		}
	}
	r := &Responder{
		cfg: cfg, log: cfg.Log, pc: pc, raw: raw,
		in: make(chan packet, 64), ren: make(chan struct{}, 1), stop: make(chan chan struct{}), done: make(chan struct{}),
		name: cfg.Info.RobotName, ifs: map[int]*ifState{}, own: map[[4]byte]bool{},
	}
	r.rescan(time.Now())
	go r.read()
	go r.loop()
	return r, nil
}

// Instance returns the advertised instance name (the robot name, with a
// "-n" suffix after a conflict) and host name.
func (r *Responder) Instance() (instance, host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.instance, r.host
}

// Rename re-advertises the service under a new robot name: goodbye for
// the old instance, then probing and announcing of the new one. The same
// name is a no-op, as in the reference. It never blocks (it may be called
// from an event publisher); of renames in quick succession the last wins.
func (r *Responder) Rename(name string) {
	r.mu.Lock()
	r.pending = name
	r.mu.Unlock()
	select {
	case r.ren <- struct{}{}:
	default: // already signalled: the loop reads the latest name
	}
}

// Close says goodbye for the service and closes the socket.
func (r *Responder) Close() {
	ack := make(chan struct{})
	select {
	case r.stop <- ack:
		<-ack
	case <-r.done:
	}
}

func (r *Responder) read() {
	buf := make([]byte, maxPacket)
	for {
		n, cm, src, err := r.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		ua, ok := src.(*net.UDPAddr)
		if cm == nil || !ok {
			continue
		}
		p := packet{data: append([]byte(nil), buf[:n]...), ifIndex: cm.IfIndex, src: ua}
		select {
		case r.in <- p:
		default: // the loop is behind: drop, as the network may
		}
	}
}

func (r *Responder) loop() {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	rescan := time.NewTicker(r.cfg.Rescan)
	defer rescan.Stop()
	for {
		now := time.Now()
		r.tick(now)
		if next, ok := r.nextWake(); ok {
			timer.Reset(max(next.Sub(now), time.Millisecond))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case p := <-r.in:
			r.handle(p, time.Now())
		case <-r.ren:
			r.mu.Lock()
			name := r.pending
			r.mu.Unlock()
			r.rename(name, time.Now())
		case <-timer.C:
		case <-rescan.C:
			r.rescan(time.Now())
		case ack := <-r.stop:
			r.goodbye()
			r.raw.Close()
			close(ack)
			return
		}
	}
}

// names returns the instance and host labels for the current conflict
// numbers.
func (r *Responder) labels() (string, string) {
	return InstanceLabel(r.name, r.instN), HostLabel(r.cfg.Info.Host, r.hostN)
}

// rebuild rebuilds every interface's records (names, TXT or addresses
// changed). It reports whether anything changed.
func (r *Responder) rebuild() bool {
	inst, host := r.labels()
	info := r.cfg.Info
	info.RobotName = r.name
	txt := TXT(info, r.primary.String())
	changed := false
	for _, st := range r.ifs {
		rec, err := Build(inst, host, info.Port, txt, st.adv.Addrs)
		if err != nil {
			r.log.Warn("mDNS: cannot build the records", "err", err)
			continue
		}
		if st.rec == nil || !sameRecords(st.rec, rec) {
			st.rec, changed = rec, true
		}
	}
	r.mu.Lock()
	r.instance, r.host = inst+"."+ServiceType, host+".local."
	r.mu.Unlock()
	return changed
}

func sameRecords(a, b *Records) bool {
	if !sameRecord(a.PTR, b.PTR) || !sameRecord(a.SRV, b.SRV) || !sameRecord(a.TXT, b.TXT) || len(a.A) != len(b.A) {
		return false
	}
	for i := range a.A {
		if !sameRecord(a.A[i], b.A[i]) {
			return false
		}
	}
	return true
}

// rescan reads the interfaces, joins the group on new ones, leaves it on
// those gone, and re-announces where the records changed.
func (r *Responder) rescan(now time.Time) {
	all, err := r.cfg.List()
	if err != nil {
		r.log.Warn("mDNS: cannot list the network interfaces", "err", err)
		return
	}
	own := map[[4]byte]bool{}
	for _, i := range all {
		for _, a := range i.IPv4() {
			own[a.As4()] = true
		}
	}
	r.own = own
	sel, why := Select(r.cfg.Binding, all)
	if len(sel) == 0 && why != r.lastReason {
		r.log.Info("mDNS: not advertised for now", "reason", why)
	}
	r.lastReason = why
	keep := map[int]bool{}
	added := false
	for _, adv := range sel {
		keep[adv.Index] = true
		st := r.ifs[adv.Index]
		if st == nil {
			ifi, err := net.InterfaceByIndex(adv.Index)
			if err == nil {
				err = r.pc.JoinGroup(ifi, groupAddr)
			}
			if err != nil {
				r.log.Warn("mDNS: cannot join the multicast group", "interface", adv.Name, "err", err)
				continue
			}
			st = &ifState{}
			r.ifs[adv.Index] = st
			added = true
			r.log.Info("mDNS: advertising on interface", "interface", adv.Name, "addrs", adv.Addrs)
		} else if !slices.Equal(st.adv.Addrs, adv.Addrs) {
			st.announceLeft, st.nextAnnounce = announceCount, now
		}
		st.adv = adv
	}
	for idx, st := range r.ifs {
		if !keep[idx] {
			if ifi, err := net.InterfaceByIndex(idx); err == nil {
				_ = r.pc.LeaveGroup(ifi, groupAddr)
			}
			delete(r.ifs, idx)
			r.log.Info("mDNS: interface left", "interface", st.adv.Name)
		}
	}
	var primary netip.Addr
	if len(sel) > 0 {
		primary = r.cfg.Primary(sel)
	}
	primaryChanged := primary != r.primary
	r.primary = primary
	changed := r.rebuild()
	switch {
	case len(r.ifs) == 0:
	case !r.published && !r.probing:
		r.startProbe(now, 0)
	case r.published && (changed || primaryChanged):
		// New addresses or TXT: announce again everywhere (the records
		// carry the cache-flush bit, so caches drop the old ones).
		for _, st := range r.ifs {
			st.announceLeft, st.nextAnnounce = announceCount, now
		}
	case r.published && added:
		for _, st := range r.ifs {
			if st.announceLeft == 0 && st.nextAnnounce.IsZero() {
				st.announceLeft, st.nextAnnounce = announceCount, now
			}
		}
	}
}

// startProbe (re)starts probing after a random delay (RFC 6762 8.1), or
// after wait when longer.
func (r *Responder) startProbe(now time.Time, wait time.Duration) {
	r.probing, r.probes = true, 0
	delay := time.Duration(rand.Int64N(int64(probeInterval)))
	r.conflicts = slices.DeleteFunc(r.conflicts, func(t time.Time) bool { return now.Sub(t) > conflictWindow })
	if len(r.conflicts) >= conflictLimit {
		delay = conflictBackoff
	}
	r.nextProbe = now.Add(max(delay, wait))
	for _, st := range r.ifs {
		st.announceLeft, st.nextAnnounce = 0, time.Time{}
	}
}

func (r *Responder) tick(now time.Time) {
	if r.probing && !now.Before(r.nextProbe) && len(r.ifs) > 0 {
		if r.probes < probeCount {
			for idx, st := range r.ifs {
				if st.rec != nil {
					r.send(Probe(st.rec), idx, groupAddr)
				}
			}
			r.probes++
			r.nextProbe = now.Add(probeInterval)
		} else {
			r.probing, r.published = false, true
			inst, host := r.Instance()
			r.log.Info("mDNS: advertising", "instance", inst, "host", host, "port", r.cfg.Info.Port)
			for _, st := range r.ifs {
				st.announceLeft, st.nextAnnounce = announceCount, now
			}
		}
	}
	if r.probing {
		return
	}
	for idx, st := range r.ifs {
		if st.announceLeft > 0 && !now.Before(st.nextAnnounce) && st.rec != nil {
			r.send(Announcement(st.rec, false), idx, groupAddr)
			st.announceLeft--
			st.nextAnnounce = now.Add(announceEvery)
		}
	}
}

func (r *Responder) nextWake() (time.Time, bool) {
	var next time.Time
	ok := false
	consider := func(t time.Time) {
		if !ok || t.Before(next) {
			next, ok = t, true
		}
	}
	if r.probing && len(r.ifs) > 0 {
		consider(r.nextProbe)
	}
	if !r.probing {
		for _, st := range r.ifs {
			if st.announceLeft > 0 {
				consider(st.nextAnnounce)
			}
		}
	}
	return next, ok
}

func (r *Responder) handle(p packet, now time.Time) {
	st := r.ifs[p.ifIndex]
	if st == nil || st.rec == nil {
		return // not an interface we advertise on
	}
	var m dnsmessage.Message
	if err := m.Unpack(p.data); err != nil {
		return
	}
	src, _ := netip.AddrFromSlice(p.src.IP)
	src = src.Unmap()
	if src.Is4() && !r.own[src.As4()] {
		d := Examine(&m, st.rec, func(a [4]byte) bool { return r.own[a] }, r.probing)
		if d.Instance || d.Host {
			r.conflict(d, now)
			return
		}
		if d.Lost {
			r.log.Info("mDNS: another host probes for the same name and wins the tie-break; probing again in 1 s")
			r.startProbe(now, time.Second)
			return
		}
	}
	if r.probing {
		return // names not ours yet
	}
	resp, unicast := Reply(&m, st.rec, p.src.Port)
	if resp == nil {
		return
	}
	if unicast {
		r.send(resp, p.ifIndex, p.src)
		return
	}
	if now.Sub(st.budgetAt) >= time.Second {
		st.budgetAt, st.budget = now, 0
	}
	if st.budget >= multicastBudget {
		return
	}
	st.budget++
	r.send(resp, p.ifIndex, groupAddr)
}

// conflict takes the next name after another host showed it holds ours,
// as the reference's responder (instance "<name>-2", "-3"...) and avahi
// (host "<host>-2"...) do.
func (r *Responder) conflict(d Dispute, now time.Time) {
	oldInst, oldHost := r.Instance()
	if r.published {
		r.goodbye()
	}
	if d.Instance {
		r.instN = max(r.instN+1, 2)
	}
	if d.Host {
		r.hostN = max(r.hostN+1, 2)
	}
	r.published = false
	r.rebuild()
	inst, host := r.Instance()
	r.log.Warn("mDNS: name conflict, taking the next name", "instance", oldInst, "host", oldHost, "new_instance", inst, "new_host", host)
	r.conflicts = append(r.conflicts, now)
	r.startProbe(now, 0)
}

func (r *Responder) rename(name string, now time.Time) {
	if name == "" || name == r.name {
		return
	}
	if r.published {
		r.goodbye()
	}
	r.name, r.instN, r.published = name, 0, false
	r.rebuild()
	inst, _ := r.Instance()
	r.log.Info("mDNS: robot renamed, advertising the new name", "instance", inst)
	if len(r.ifs) > 0 {
		r.startProbe(now, 0)
	}
}

// goodbye withdraws the published records on every interface (twice, in
// case one is lost), so browsers drop the service at once instead of
// when its TTL runs out.
func (r *Responder) goodbye() {
	if !r.published {
		return
	}
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(goodbyeGap)
		}
		for idx, st := range r.ifs {
			if st.rec != nil {
				r.send(Announcement(st.rec, true), idx, groupAddr)
			}
		}
	}
	r.published = false
}

func (r *Responder) send(m *dnsmessage.Message, ifIndex int, dst *net.UDPAddr) {
	b, err := m.Pack()
	if err != nil {
		r.log.Debug("mDNS: cannot pack a message", "err", err)
		return
	}
	if _, err := r.pc.WriteTo(b, &ipv4.ControlMessage{IfIndex: ifIndex}, dst); err != nil {
		r.log.Debug("mDNS: send failed", "interface", ifIndex, "err", err)
	}
}

// RoutePrimary returns the advertised address the host would send
// multicast from (the reference's TXT "address": it asks the kernel the
// same way, connecting a UDP socket, which sends nothing), or the first
// advertised address when that one is not advertised.
func RoutePrimary(sel []Advertised) netip.Addr {
	var first netip.Addr
	for _, s := range sel {
		if len(s.Addrs) > 0 {
			first = s.Addrs[0]
			break
		}
	}
	c, err := net.DialUDP("udp4", nil, groupAddr)
	if err != nil {
		return first
	}
	defer c.Close()
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return first
	}
	a, _ := netip.AddrFromSlice(la.IP)
	a = a.Unmap()
	for _, s := range sel {
		if slices.Contains(s.Addrs, a) {
			return a
		}
	}
	return first
}
