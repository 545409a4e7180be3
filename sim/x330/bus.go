package x330

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"reachyd/hw"
	dxl "reachyd/hw/dynamixel"
	"reachyd/internal/hrtimer"
)

// Options configure a simulated bus. The zero value is a factory-configured
// robot with instant answers.
type Options struct {
	// Configured starts the motors as Reachy Mini's hardware_config.yaml
	// sets them (ConfiguredTable); otherwise they have FactoryTable values
	// and the daemon's reflash has work to do.
	Configured bool
	// Start is the pose at power-on, in the robot's calibrated frame
	// (hardware_config offsets): default SleepPositions. A factory-configured
	// motor, whose homing offset is 0, reads it shifted by the ±1024 ticks
	// its reflash will add, as a real one would.
	Start *hw.Positions
	// Mockup applies goal positions at once, whatever the torque, like the
	// reference's --mockup-sim.
	Mockup bool
	// Tau is the time constant of the first-order lag toward the goal under
	// torque in a position mode (default 25 ms); MaxSpeed caps the speed in
	// rad/s (default 10).
	Tau      time.Duration
	MaxSpeed float64
	// Now is the motion model's clock (default time.Now). Bus timing and
	// the reboot delay use the real clock: the host reads in real time.
	Now func() time.Time
	// RebootDelay is how long a motor stays silent after Reboot or
	// FactoryReset (default 5 ms; negative for none).
	RebootDelay time.Duration
	// Timing makes replies readable only when they would have crossed the
	// wire: the instruction's bytes, each motor's Return Delay Time and its
	// status packet's bytes, serialised on the half-duplex line, at 10 bits
	// per byte (see the package doc for the cost). Off, replies are
	// readable as soon as the instruction is written.
	Timing bool
	// BaudRate of the host side (default 1 Mbps). Motors whose Baud Rate
	// register selects another rate do not hear the bus.
	BaudRate int
	// Latency is added to every reply's arrival, as a USB adapter's latency
	// would (default 0). It applies with Timing off too.
	Latency time.Duration
	// Seed seeds the garbage that InjectGarbage sends.
	Seed uint64
}

func (o *Options) fill() {
	if o.Tau <= 0 {
		o.Tau = DefaultTau
	}
	if o.MaxSpeed <= 0 {
		o.MaxSpeed = DefaultMaxSpeed
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case o.RebootDelay == 0:
		o.RebootDelay = DefaultRebootDelay
	case o.RebootDelay < 0:
		o.RebootDelay = 0
	}
	if o.BaudRate <= 0 {
		o.BaudRate = dxl.DefaultBaudRate
	}
}

// SleepPositions is the default start pose: the reference's sleep pose,
// the same values as sim.SleepPositions (a test checks), copied rather than
// imported so that package sim may build on this one.
var SleepPositions = hw.Positions{
	0, -0.17062380590244164, 0.8364877309801191, -0.12343185781944577,
	0.0875715398578798, -0.8121685549523026, 0.178508447104627, -3.05, 3.05,
}

// PortPath names the simulated serial device in errors.
const PortPath = "/dev/ttyACM-x330sim"

// ErrClosed is returned by a Port used after Close.
var ErrClosed = errors.New("x330: port closed")

// Port is the host's handle on the bus: a dynamixel.Port with the serial
// port's ResetInputBuffer and Close.
type Port interface {
	dxl.Port
	ResetInputBuffer() error
	Close() error
}

// Bus is the simulated wire: Reachy Mini's nine motors (IDs 10..18) plus any
// a test adds, answering Protocol 2.0 instruction packets written to a Port
// with status packets as the devices would. It is safe for concurrent use;
// fault injection may run alongside traffic.
type Bus struct {
	opts     Options
	byteTime float64 // ns per byte on the wire

	mu        sync.Mutex
	motors    []*Motor
	robot     [hw.NumMotors]*Motor
	handles   map[*handle]struct{}
	unplugged bool
	garbage   int
	corrupt   int
	replyF    []ReplyFault
	inst      dxl.Instruction // the instruction being executed
	rng       *rand.Rand
	counts    map[dxl.Instruction]uint64
	lastSync  SyncWriteRecord
	lineFree  time.Time

	// Scratch for building replies, reused under mu.
	out     []byte
	pend    []pendingStatus
	fast    []dxl.FastReply
	fastOff []int
	scratch []byte
	order   []*Motor
}

// pendingStatus is one status packet in b.out, sent after delay (the
// motor's Return Delay Time).
type pendingStatus struct {
	start, end int
	delay      time.Duration
	// late and corrupt come from a ReplyFault.
	late    time.Duration
	corrupt bool
}

// NewBus returns a bus with Reachy Mini's nine motors powered on: torque
// off, at the Start pose.
func NewBus(opts Options) *Bus {
	opts.fill()
	b := &Bus{
		opts:     opts,
		byteTime: 10 * 1e9 / float64(opts.BaudRate),
		handles:  map[*handle]struct{}{},
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9E3779B97F4A7C15)),
		counts:   map[dxl.Instruction]uint64{},
	}
	start := SleepPositions
	if opts.Start != nil {
		start = *opts.Start
	}
	for i, c := range ReachyMini {
		t := FactoryTable(c.Model, c.ID)
		if opts.Configured {
			t = ConfiguredTable(c)
		}
		m := newMotor(t, opts)
		m.SetActualPosition(dxl.RadToTicks(start[i]) - c.HomingOffset)
		m.t.Set(dxl.AddrGoalPosition, int64(m.present()))
		b.robot[i] = m
		b.motors = append(b.motors, m)
	}
	return b
}

// AddMotor puts a new motor with table t on the bus (shaft at 2048).
func (b *Bus) AddMotor(t Table) *Motor {
	m := newMotor(t, b.opts)
	b.mu.Lock()
	b.motors = append(b.motors, m)
	b.mu.Unlock()
	return m
}

// Motor returns the first motor whose ID is id, or nil.
func (b *Bus) Motor(id byte) *Motor {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.find(id)
}

func (b *Bus) find(id byte) *Motor {
	for _, m := range b.motors {
		m.mu.Lock()
		ok := m.t[dxl.AddrID] == id
		m.mu.Unlock()
		if ok {
			return m
		}
	}
	return nil
}

// Snapshot returns the state of the motor with ID id.
func (b *Bus) Snapshot(id byte) (MotorState, bool) {
	m := b.Motor(id)
	if m == nil {
		return MotorState{}, false
	}
	return m.Snapshot(), true
}

// Positions returns the present positions of Reachy Mini's nine motors in
// radians, in bus order, whatever their IDs have become.
func (b *Bus) Positions() hw.Positions {
	var p hw.Positions
	for i, m := range b.robot {
		m.mu.Lock()
		m.advance()
		p[i] = dxl.TicksToRad(m.present())
		m.mu.Unlock()
	}
	return p
}

// Counts returns how many instruction packets of each kind the bus has
// received.
func (b *Bus) Counts() map[dxl.Instruction]uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[dxl.Instruction]uint64, len(b.counts))
	for k, v := range b.counts {
		out[k] = v
	}
	return out
}

// SyncWriteRecord is the content of a Sync Write instruction.
type SyncWriteRecord struct {
	Addr, Len uint16
	// Params are the blocks after address and length: ID, then Len bytes,
	// per device.
	Params []byte
}

// Data returns the bytes the record carries for id.
func (r SyncWriteRecord) Data(id byte) ([]byte, bool) {
	for p := r.Params; len(p) > int(r.Len); p = p[1+int(r.Len):] {
		if p[0] == id {
			return p[1 : 1+int(r.Len)], true
		}
	}
	return nil, false
}

// LastSyncWrite returns the last well-formed Sync Write the bus received.
func (b *Bus) LastSyncWrite() SyncWriteRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.lastSync
	r.Params = slices.Clone(r.Params)
	return r
}

// Open returns a new host handle on the bus, like opening the serial
// device. Several may be open at once; each gets the replies to what it
// writes. While the bus is unplugged, Open fails with a not-found error.
func (b *Bus) Open() (Port, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unplugged {
		return nil, &fs.PathError{Op: "open", Path: PortPath, Err: syscall.ENOENT}
	}
	h := &handle{b: b, timeout: -1, notify: make(chan struct{}, 1), timer: time.NewTimer(time.Hour)}
	h.timer.Stop()
	if b.opts.Timing {
		h.alarm = hrtimer.New("x330-alarm")
	}
	b.handles[h] = struct{}{}
	return h, nil
}

// wire is the time n bytes take on the bus.
func (b *Bus) wire(n int) time.Duration { return time.Duration(float64(n) * b.byteTime) }

// handle is one open Port. Its fields after readMu are guarded by b.mu.
type handle struct {
	b      *Bus
	readMu sync.Mutex // serialises Reads, which share the timer
	timer  *time.Timer
	notify chan struct{}  // signalled on new bytes, Close and Unplug
	alarm  *hrtimer.Alarm // with Timing where available: rung with notify
	// sleeping says a Read found nothing to read and may wait on the
	// alarm, so signal must ring it.
	sleeping bool

	parser  dxl.InstructionParser
	timeout time.Duration
	closed  bool
	gone    bool // the device vanished (Unplug): dead for good
	buf     []byte
	off     int
	marks   []mark
}

// mark says that buf[:end] is readable from at on.
type mark struct {
	end int
	at  time.Time
}

// spinTail is how long before a reply is due a Read stops sleeping on the
// alarm and yields instead, with Timing: a little more than the alarm's
// usual wake-up latency, so that replies are read on time.
const spinTail = 60 * time.Microsecond

// signal wakes a Read waiting for news. b.mu held.
func (h *handle) signal() {
	select {
	case h.notify <- struct{}{}:
	default:
	}
	// After the token: a Read that arms the alarm after this ring finds
	// the token (it looks after arming); one that armed before is rung.
	if h.alarm != nil && h.sleeping {
		h.alarm.Ring()
	}
}

// failure returns the error of a closed or vanished handle. b.mu held.
func (h *handle) failure(op string) error {
	switch {
	case h.closed:
		return ErrClosed
	case h.gone:
		return &fs.PathError{Op: op, Path: PortPath, Err: syscall.EIO}
	}
	return nil
}

// SetReadTimeout sets how long Read waits for a first byte: zero polls,
// negative waits forever (go.bug.st/serial semantics).
func (h *handle) SetReadTimeout(d time.Duration) error {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if err := h.failure("set read timeout"); err != nil {
		return err
	}
	h.timeout = d
	return nil
}

// Write puts p on the bus. The motors act on complete instruction packets
// at once; their replies become readable as Options.Timing says.
func (h *handle) Write(p []byte) (int, error) {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := h.failure("write"); err != nil {
		return 0, err
	}
	wall := time.Now()
	end := wall
	if b.opts.Timing {
		end = later(wall, b.lineFree).Add(b.wire(len(p)))
		b.lineFree = end
	}
	h.parser.Write(p)
	for {
		pkt, ok := h.parser.Next()
		if !ok {
			break
		}
		b.counts[pkt.Inst]++
		b.exec(pkt, wall)
		b.emit(h, end, wall)
	}
	return len(p), nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Read blocks until at least one byte is readable, the timeout passes
// (returning 0, nil) or the handle is closed or vanishes.
func (h *handle) Read(p []byte) (int, error) {
	h.readMu.Lock()
	defer h.readMu.Unlock()
	b := h.b
	b.mu.Lock()
	timeout := h.timeout
	b.mu.Unlock()
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		b.mu.Lock()
		if err := h.failure("read"); err != nil {
			b.mu.Unlock()
			return 0, err
		}
		now := time.Now()
		n, next := h.take(p, now)
		h.sleeping = n == 0
		b.mu.Unlock()
		if n > 0 || len(p) == 0 || timeout == 0 {
			return n, nil
		}
		wait := time.Duration(-1)
		if !next.IsZero() {
			wait = next.Sub(now)
		}
		forReply := wait >= 0 // waking for replies, not for the timeout
		if timeout > 0 {
			left := deadline.Sub(now)
			if left <= 0 {
				return 0, nil
			}
			if wait < 0 || left < wait {
				wait, forReply = left, false
			}
		}
		if wait < 0 {
			<-h.notify
			continue
		}
		if forReply && h.alarm != nil { // Timing
			// Go timers wake up to ~1 ms late on Linux, which would add
			// most of a millisecond to every transaction: the alarm rings
			// on time, give or take its wake-up latency, which the last
			// spinTail of yielding absorbs.
			if wait <= spinTail {
				for target := now.Add(wait); time.Now().Before(target); {
					runtime.Gosched()
				}
				continue
			}
			// Arm first, then look for news, then wait: news that comes
			// after the look rings the alarm (signal).
			if !h.alarm.Set(wait - spinTail) {
				continue // closed: the next turn reports why
			}
			select {
			case <-h.notify:
			default:
				h.alarm.Wait()
			}
			continue
		}
		h.timer.Reset(wait)
		select {
		case <-h.notify:
			h.timer.Stop()
		case <-h.timer.C:
		}
	}
}

// take copies readable bytes into p and returns when more become readable
// (zero if none are pending). b.mu held.
func (h *handle) take(p []byte, now time.Time) (int, time.Time) {
	avail, next := h.readable(now)
	n := copy(p, h.buf[h.off:avail])
	h.consume(n)
	return n, next
}

// readable returns the end of the bytes readable at now in buf, and when
// the next ones will be (zero if none are pending).
func (h *handle) readable(now time.Time) (int, time.Time) {
	avail := h.off
	for _, mk := range h.marks {
		if mk.at.After(now) {
			return avail, mk.at
		}
		avail = mk.end
	}
	return avail, time.Time{}
}

// consume drops n read bytes, compacting the buffer.
func (h *handle) consume(n int) {
	h.off += n
	k := 0
	for k < len(h.marks) && h.marks[k].end <= h.off {
		k++
	}
	h.marks = append(h.marks[:0], h.marks[k:]...)
	switch {
	case h.off == len(h.buf):
		h.buf, h.off = h.buf[:0], 0
	case h.off >= 4096:
		h.buf = h.buf[:copy(h.buf, h.buf[h.off:])]
		for i := range h.marks {
			h.marks[i].end -= h.off
		}
		h.off = 0
	}
}

// push queues bytes readable from at on. b.mu held.
func (h *handle) push(garbage, pkt []byte, corrupt bool, at time.Time) {
	h.buf = append(h.buf, garbage...)
	h.buf = append(h.buf, pkt...)
	if corrupt {
		h.buf[len(h.buf)-1] ^= 0xFF // the CRC's high byte
	}
	if n := len(h.marks); n > 0 && h.marks[n-1].at.After(at) {
		at = h.marks[n-1].at
	}
	h.marks = append(h.marks, mark{len(h.buf), at})
}

// ResetInputBuffer discards the bytes received so far, like tcflush: bytes
// still on the wire (Timing) arrive later.
func (h *handle) ResetInputBuffer() error {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := h.failure("reset input buffer"); err != nil {
		return err
	}
	avail, _ := h.readable(time.Now())
	h.consume(avail - h.off)
	return nil
}

// Close releases the handle; a pending Read returns ErrClosed. Closing
// twice is harmless.
func (h *handle) Close() error {
	b := h.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if !h.closed {
		h.closed = true
		delete(b.handles, h)
		h.signal()
		if h.alarm != nil {
			h.alarm.Close() // a wait on it returns
		}
	}
	return nil
}

// emit queues the status packets of the last instruction on h. b.mu held.
//
// They become readable together, when the last of them that is on time
// has crossed the wire, as a USB adapter delivers a burst: the host reads
// a sync read's nine replies at once rather than eight and then one. A
// reply made late by a ReplyFault comes later, with those sent after it.
func (b *Bus) emit(h *handle, instrEnd, wall time.Time) {
	if len(b.pend) == 0 {
		return
	}
	first := len(h.marks)
	var onTime time.Time // when the last reply not made late is due
	t := later(instrEnd, b.lineFree)
	for _, ps := range b.pend {
		pkt := b.out[ps.start:ps.end]
		var garbage []byte
		if b.garbage > 0 {
			garbage = b.scratch[:0]
			for range b.garbage {
				garbage = append(garbage, byte(b.rng.Uint32()))
			}
			b.scratch = garbage
			b.garbage = 0
		}
		corrupt := b.corrupt > 0
		if corrupt {
			b.corrupt--
		}
		corrupt = corrupt || ps.corrupt
		var at time.Time // readable at once
		if b.opts.Timing {
			t = t.Add(ps.delay).Add(b.wire(len(garbage) + len(pkt)))
			at = t
		}
		if late := b.opts.Latency + ps.late; late > 0 {
			if at.IsZero() {
				at = wall
			}
			at = at.Add(late)
		}
		if ps.late == 0 {
			onTime = later(at, onTime)
		}
		h.push(garbage, pkt, corrupt, at)
	}
	for i := first; i < len(h.marks); i++ {
		h.marks[i].at = later(h.marks[i].at, onTime)
	}
	if b.opts.Timing {
		b.lineFree = t
	}
	h.signal()
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }

// status queues a status packet from m. b.mu and m.mu held.
func (b *Bus) status(m *Motor, id byte, code dxl.ErrorCode, params []byte) {
	f, ok := b.replyFault(id)
	if ok && f.Drop {
		return
	}
	start := len(b.out)
	b.out = dxl.AppendStatus(b.out, id, m.errByte(code), params)
	delay := time.Duration(m.t[dxl.AddrReturnDelayTime]) * 2 * time.Microsecond
	b.pend = append(b.pend, pendingStatus{start: start, end: len(b.out), delay: delay, late: f.Delay, corrupt: f.Corrupt})
}

// replyFault spends one reply of the first ReplyFault that matches a
// status from id to the instruction being executed. b.mu held.
func (b *Bus) replyFault(id byte) (ReplyFault, bool) {
	for i := range b.replyF {
		f := &b.replyF[i]
		if f.ID != id || (f.Inst != 0 && f.Inst != b.inst) {
			continue
		}
		out := *f
		if f.Count--; f.Count <= 0 {
			b.replyF = slices.Delete(b.replyF, i, i+1)
		}
		return out, true
	}
	return ReplyFault{}, false
}

// each runs fn, with m.mu held and the motion model advanced, on every
// motor that hears the bus and has ID id (any ID if all).
func (b *Bus) each(id byte, all bool, wall time.Time, fn func(m *Motor)) {
	for _, m := range b.motors {
		m.mu.Lock()
		if m.available(wall, b.opts.BaudRate) && (all || m.t[dxl.AddrID] == id) {
			m.advance()
			fn(m)
		}
		m.mu.Unlock()
	}
}

// Status Return Level (68) values: which instructions get a status.
const (
	levelPing = 0 // Ping only
	levelRead = 1 // and the reads
	levelAll  = 2
)

// exec runs one instruction packet, leaving its status packets in b.pend.
// b.mu held.
func (b *Bus) exec(pkt dxl.InstructionPacket, wall time.Time) {
	b.out, b.pend = b.out[:0], b.pend[:0]
	b.inst = pkt.Inst
	id, par := pkt.ID, pkt.Params
	bc := id == dxl.BroadcastID
	// reply answers a unicast instruction if the level allows it.
	reply := func(m *Motor, level byte, code dxl.ErrorCode, data []byte) {
		if !bc && m.t[dxl.AddrStatusReturnLevel] >= level {
			b.status(m, id, code, data)
		}
	}
	switch pkt.Inst {
	case dxl.InstPing:
		b.order = b.order[:0]
		b.each(id, bc, wall, func(m *Motor) { b.order = append(b.order, m) })
		// A broadcast ping is answered in ID order.
		slices.SortStableFunc(b.order, func(x, y *Motor) int { return int(x.t[dxl.AddrID]) - int(y.t[dxl.AddrID]) })
		for _, m := range b.order {
			m.mu.Lock()
			info := [3]byte{m.t[dxl.AddrModelNumber], m.t[dxl.AddrModelNumber+1], m.t[dxl.AddrFirmwareVersion]}
			b.status(m, m.t[dxl.AddrID], 0, info[:])
			m.mu.Unlock()
		}
	case dxl.InstRead:
		if bc {
			return // a broadcast Read gets no status and changes nothing
		}
		b.each(id, false, wall, func(m *Motor) {
			if len(par) != 4 {
				reply(m, levelRead, dxl.ErrDataLength, nil)
				return
			}
			data, code := m.read(le16(par), le16(par[2:]))
			reply(m, levelRead, code, data)
		})
	case dxl.InstWrite, dxl.InstRegWrite:
		b.each(id, bc, wall, func(m *Motor) {
			if len(par) < 3 {
				reply(m, levelAll, dxl.ErrDataLength, nil)
				return
			}
			apply := pkt.Inst == dxl.InstWrite
			level := m.t[dxl.AddrStatusReturnLevel] // the level before the write
			code := m.write(le16(par), par[2:], apply)
			if !apply && code == 0 {
				m.reg = append(m.reg[:0], par...)
			}
			if !bc && level >= levelAll {
				b.status(m, id, code, nil)
			}
		})
	case dxl.InstAction:
		b.each(id, bc, wall, func(m *Motor) {
			code := dxl.ErrInstruction // Action without RegWrite
			if m.reg != nil {
				code = m.write(le16(m.reg), m.reg[2:], true)
				m.reg = nil
			}
			reply(m, levelAll, code, nil)
		})
	case dxl.InstReboot:
		b.each(id, bc, wall, func(m *Motor) {
			reply(m, levelAll, 0, nil) // answered before going silent
			m.reboot(wall)
		})
	case dxl.InstFactoryReset:
		if len(par) == 1 && bc && dxl.ResetOption(par[0]) == dxl.ResetAll {
			return // devices ignore a broadcast reset of everything
		}
		b.each(id, bc, wall, func(m *Motor) {
			if len(par) != 1 {
				reply(m, levelAll, dxl.ErrDataLength, nil)
				return
			}
			switch opt := dxl.ResetOption(par[0]); opt {
			case dxl.ResetAll, dxl.ResetKeepID, dxl.ResetKeepIDBaud:
				reply(m, levelAll, 0, nil)
				m.factoryReset(opt, wall)
			default:
				reply(m, levelAll, dxl.ErrDataRange, nil)
			}
		})
	case dxl.InstClear:
		b.each(id, bc, wall, func(m *Motor) {
			key := []byte{0x44, 0x58, 0x4C, 0x22}
			switch {
			case len(par) == 0:
				reply(m, levelAll, dxl.ErrDataLength, nil)
			case par[0] == byte(dxl.ClearMultiTurn) && slices.Equal(par[1:], key):
				reply(m, levelAll, m.clearMultiTurn(), nil)
			default:
				// Other modes are reserved in the e-manual: only a Reboot
				// clears errors.
				reply(m, levelAll, dxl.ErrResultFail, nil)
			}
		})
	case dxl.InstSyncRead, dxl.InstFastSyncRead:
		if !bc || len(par) < 5 {
			return
		}
		addr, n := le16(par), le16(par[2:])
		if pkt.Inst == dxl.InstFastSyncRead {
			b.fastSyncRead(addr, n, par[4:], wall)
			return
		}
		for _, tid := range par[4:] {
			b.each(tid, false, wall, func(m *Motor) {
				if m.t[dxl.AddrStatusReturnLevel] >= levelRead {
					data, code := m.read(addr, n)
					b.status(m, tid, code, data)
				}
			})
		}
	case dxl.InstBulkRead:
		if !bc || len(par) == 0 || len(par)%5 != 0 {
			return
		}
		for p := par; len(p) >= 5; p = p[5:] {
			tid, addr, n := p[0], le16(p[1:]), le16(p[3:])
			b.each(tid, false, wall, func(m *Motor) {
				if m.t[dxl.AddrStatusReturnLevel] >= levelRead {
					data, code := m.read(addr, n)
					b.status(m, tid, code, data)
				}
			})
		}
	case dxl.InstSyncWrite:
		if !bc || len(par) < 4 {
			return
		}
		addr, n := le16(par), int(le16(par[2:]))
		if n == 0 || (len(par)-4)%(n+1) != 0 {
			return
		}
		b.lastSync = SyncWriteRecord{Addr: addr, Len: uint16(n), Params: append(b.lastSync.Params[:0], par[4:]...)}
		for p := par[4:]; len(p) > n; p = p[n+1:] {
			b.each(p[0], false, wall, func(m *Motor) { m.write(addr, p[1:n+1], true) })
		}
	case dxl.InstBulkWrite:
		if !bc {
			return
		}
		for p := par; len(p) >= 5; {
			tid, addr, n := p[0], le16(p[1:]), int(le16(p[3:]))
			if len(p) < 5+n {
				break
			}
			data := p[5 : 5+n]
			b.each(tid, false, wall, func(m *Motor) { m.write(addr, data, true) })
			p = p[5+n:]
		}
	default:
		b.each(id, false, wall, func(m *Motor) {
			if !bc {
				reply(m, levelAll, dxl.ErrInstruction, nil)
			}
		})
	}
}

// fastSyncRead builds the single status packet the listed devices send
// together in answer to a Fast Sync Read. b.mu held.
func (b *Bus) fastSyncRead(addr, n uint16, ids []byte, wall time.Time) {
	b.fast, b.fastOff, b.scratch = b.fast[:0], b.fastOff[:0], b.scratch[:0]
	var delay time.Duration
	for _, tid := range ids {
		b.each(tid, false, wall, func(m *Motor) {
			if m.t[dxl.AddrStatusReturnLevel] < levelRead {
				return
			}
			if len(b.fast) == 0 {
				delay = time.Duration(m.t[dxl.AddrReturnDelayTime]) * 2 * time.Microsecond
			}
			data, code := m.read(addr, n)
			b.fastOff = append(b.fastOff, len(b.scratch))
			if code == 0 {
				b.scratch = append(b.scratch, data...)
			} else {
				for range n {
					b.scratch = append(b.scratch, 0)
				}
			}
			b.fast = append(b.fast, dxl.FastReply{ID: tid, Err: m.errByte(code)})
		})
	}
	if len(b.fast) == 0 {
		return
	}
	for i, off := range b.fastOff {
		b.fast[i].Data = b.scratch[off : off+int(n)]
	}
	start := len(b.out)
	b.out = dxl.AppendFastSyncReadStatus(b.out, b.fast)
	b.pend = append(b.pend, pendingStatus{start: start, end: len(b.out), delay: delay})
}
