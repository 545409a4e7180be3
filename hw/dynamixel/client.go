package dynamixel

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Port is the byte link to the bus.
//
// Read must block until at least one byte arrives, the timeout last given to
// SetReadTimeout expires, or the port fails. A timeout may be reported as
// (0, nil) or as an error matching os.ErrDeadlineExceeded or having a true
// Timeout method: go.bug.st/serial has done both across versions. A zero
// timeout must poll; a negative one may mean no timeout.
//
// A go.bug.st/serial serial.Port satisfies Port as is. If the port also has
// a ResetInputBuffer() error method (serial.Port does), the Client uses it
// to discard stale input; otherwise it drains the input with zero-timeout
// reads. DeadlinePort adapts net.Conn-style ports.
type Port interface {
	io.ReadWriter
	SetReadTimeout(time.Duration) error
}

// DeadlineReadWriter is a port with deadline-based timeouts, like net.Conn
// or an *os.File opened on a pty.
type DeadlineReadWriter interface {
	io.ReadWriter
	SetReadDeadline(time.Time) error
}

// DeadlinePort adapts a deadline-based port to Port. A zero timeout polls
// for 100 µs.
func DeadlinePort(rw DeadlineReadWriter) Port { return &deadlinePort{rw: rw, timeout: -1} }

type deadlinePort struct {
	rw      DeadlineReadWriter
	timeout time.Duration
}

func (p *deadlinePort) SetReadTimeout(d time.Duration) error { p.timeout = d; return nil }
func (p *deadlinePort) Write(b []byte) (int, error)          { return p.rw.Write(b) }

// pollWindow stands in for a zero timeout: a deadline already past makes
// os.File and net.Pipe reads fail before looking at buffered data, which
// would defeat the Client's draining of stale input.
const pollWindow = 100 * time.Microsecond

func (p *deadlinePort) Read(b []byte) (int, error) {
	var dl time.Time
	switch {
	case p.timeout == 0:
		dl = time.Now().Add(pollWindow)
	case p.timeout > 0:
		dl = time.Now().Add(p.timeout)
	}
	if err := p.rw.SetReadDeadline(dl); err != nil {
		return 0, err
	}
	return p.rw.Read(b)
}

// Config tunes a Client. The zero value gives the defaults.
type Config struct {
	// BaudRate of the bus, to compute how long replies take on the wire.
	// Default 1 Mbps, Reachy Mini's rate.
	BaudRate int
	// ReturnDelay is the motors' Return Delay Time (address 9, in units of
	// 2 µs), waited once per expected reply. Reachy Mini sets it to 0; the
	// factory value is 500 µs.
	ReturnDelay time.Duration
	// Margin is added to every reply deadline for USB latency, device
	// processing and scheduling. Default 10 ms, the reference's serial
	// timeout. It is also what a missing motor costs per attempt.
	Margin time.Duration
	// Attempts bounds the tries of a transaction whose reply was lost or
	// damaged. Default 5, as the reference; 1 disables retries.
	Attempts int
	// RetryPause is slept between attempts, letting a disturbed bus settle.
	// Default 20 ms, as the reference; negative means none.
	RetryPause time.Duration
}

// Defaults applied to zero Config fields.
const (
	DefaultBaudRate   = 1_000_000
	DefaultMargin     = 10 * time.Millisecond
	DefaultAttempts   = 5
	DefaultRetryPause = 20 * time.Millisecond
	// DefaultRawWait is WriteRaw's wait when given none, the reference's.
	DefaultRawWait = 10 * time.Millisecond
)

// rawIdle ends WriteRaw's collection once bytes have arrived and the line
// has gone quiet this long: a USB adapter delivers in ~1 ms frames.
const rawIdle = 2 * time.Millisecond

// Result is one device's answer in a multi-device read.
type Result struct {
	ID byte
	// Data is valid only when Err is nil. It points into the Client and is
	// overwritten by its next call.
	Data []byte
	// Err is nil, *TimeoutError, *CorruptError or *StatusError.
	Err error
	// Alert is the device's alert bit: it has a hardware error.
	Alert bool
}

// Stats counts a Client's traffic since it was created.
type Stats struct {
	Packets  uint64 // instruction packets sent
	Retries  uint64 // attempts after the first
	Timeouts uint64 // expected replies that never came
	Corrupt  uint64 // attempts ended by a damaged or malformed reply
	Ignored  uint64 // valid status packets nobody was waiting for (late replies among them)
	Barriers uint64 // barrier pings sent to devices whose reply was late or lost
	Parser   ParserStats
}

// ErrInvalid matches errors for arguments the protocol cannot carry; nothing
// is sent.
var ErrInvalid = errors.New("dynamixel: invalid argument")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// errDeadline ends a wait for replies inside the Client.
var errDeadline = errors.New("dynamixel: reply deadline")

// Result states during a multi-device read.
const (
	statePending  = iota // still expected in this attempt
	stateAnswered        // answered this attempt, but worth asking again
	stateDone            // final: data, or an error a retry cannot fix
)

// Client runs Protocol 2.0 transactions on a Port. It is not safe for
// concurrent use: the bus is half-duplex and one owner (the motor bus actor)
// must serialise transactions anyway. Slices it returns point into buffers
// it reuses, valid until its next call; that is what keeps the 50 Hz sync
// read and write free of allocations.
type Client struct {
	port  Port
	reset interface{ ResetInputBuffer() error }
	cfg   Config
	p     Parser
	stats Stats

	tx, par, rbuf, data, raw, ids []byte
	reqs                          []BulkReadReq
	res                           []Result
	state                         []uint8
	todo                          []int
	fast                          []FastReply
	alerts                        [4]uint64

	// suspect holds the devices whose last expected reply never came: it
	// may still be on its way, and would pass for the answer to the next
	// request. Before asking such a device anything, the client sends it a
	// barrier (see barrier) and discards whatever arrives before the
	// barrier's answer.
	suspect [4]uint64
	btx     []byte
	// ctr counts exchanges per device (nil: not counted); see Counters.
	ctr *Counters
	// pings holds each device's last ping answer (model number and
	// firmware, plus 1<<24 once known), to recognise a barrier's answer.
	pings map[byte]uint32
}

// NewClient returns a Client on port.
func NewClient(port Port, cfg Config) *Client {
	c := &Client{port: port, rbuf: make([]byte, 512)}
	c.SetConfig(cfg)
	c.reset, _ = port.(interface{ ResetInputBuffer() error })
	return c
}

// SetConfig changes the configuration for the next transactions, filling
// in defaults as NewClient does: a bus opened with the reference's patient
// retries can then run its control loop with short ones.
func (c *Client) SetConfig(cfg Config) {
	if cfg.BaudRate <= 0 {
		cfg.BaudRate = DefaultBaudRate
	}
	if cfg.Margin <= 0 {
		cfg.Margin = DefaultMargin
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.RetryPause == 0 {
		cfg.RetryPause = DefaultRetryPause
	}
	c.cfg = cfg
}

// Config returns the configuration in use, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Stats returns the traffic counters.
func (c *Client) Stats() Stats {
	s := c.stats
	s.Parser = c.p.Stats()
	return s
}

// Alert reports whether the last status from id had the alert bit set: the
// device has a hardware error (read AddrHardwareErrorStatus). The alert does
// not fail transactions, because the instruction still succeeded.
func (c *Client) Alert(id byte) bool { return c.alerts[id>>6]&(1<<(id&63)) != 0 }

func (c *Client) noteAlert(id, errByte byte) {
	if errByte&0x80 != 0 {
		c.ctr.add(id, HardwareAlerts)
		c.alerts[id>>6] |= 1 << (id & 63)
	} else {
		c.alerts[id>>6] &^= 1 << (id & 63)
	}
}

func (c *Client) isSuspect(id byte) bool { return c.suspect[id>>6]&(1<<(id&63)) != 0 }

func (c *Client) setSuspect(id byte, on bool) {
	if on {
		c.suspect[id>>6] |= 1 << (id & 63)
	} else {
		c.suspect[id>>6] &^= 1 << (id & 63)
	}
}

// barrier makes sure no reply of device id to an earlier request is still
// to come: it pings the device and discards everything that arrives before
// the ping's answer. A device answers its instructions in order and the
// line keeps the order of bytes, so once that answer has arrived,
// everything the device sent before it has arrived too. Ping is answered
// at every Status Return Level. Its answer is told from a late 3-byte read
// by its content, the model number and firmware the device gave before.
// If the barrier is not answered, the device stays suspect and the caller
// must not ask it anything this attempt: a *TimeoutError.
func (c *Client) barrier(id byte) error {
	c.stats.Barriers++
	c.btx = AppendInstruction(c.btx[:0], id, InstPing, nil)
	if err := c.sendBytes(c.btx); err != nil {
		return err
	}
	c.ctr.add(id, Exchanges)
	deadline := time.Now().Add(c.budget(len(c.btx), 14, 1))
	known, haveKnown := c.pings[id]
	for {
		s, err := c.recv(deadline)
		if err == errDeadline {
			c.stats.Timeouts++
			c.ctr.add(id, Timeouts)
			return &TimeoutError{ID: id}
		}
		if err != nil {
			return err
		}
		if s.ID == id && s.Code() == 0 && len(s.Params) == 3 && (!haveKnown || pingWord(s.Params) == known) {
			c.noteAlert(id, s.Err)
			c.setSuspect(id, false)
			return nil
		}
		c.stats.Ignored++
	}
}

func pingWord(p []byte) uint32 { return 1<<24 | uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 }

// pingEcho reports whether p, a 3-byte answer of device id to something
// other than a ping, is its ping answer instead: the answer to a barrier
// whose place a late answer to an earlier ping took. No register of an
// X330 that reachyd reads holds its model number and firmware.
func (c *Client) pingEcho(id byte, p []byte) bool {
	if len(p) != 3 {
		return false
	}
	w, ok := c.pings[id]
	return ok && pingWord(p) == w
}

// Ping returns the model number and firmware version of device id.
func (c *Client) Ping(id byte) (model uint16, firmware byte, err error) {
	if err := checkID(id); err != nil {
		return 0, 0, err
	}
	s, err := c.transact(id, InstPing, nil, 3, true)
	if err != nil {
		return 0, 0, err
	}
	if c.pings == nil {
		c.pings = map[byte]uint32{}
	}
	c.pings[id] = pingWord(s.Params)
	return uint16(s.Params[0]) | uint16(s.Params[1])<<8, s.Params[2], nil
}

// Read reads n bytes at addr from device id. The slice is valid until the
// next call on c.
func (c *Client) Read(id byte, addr, n uint16) ([]byte, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if err := checkReply(n); err != nil {
		return nil, err
	}
	c.par = AppendReadParams(c.par[:0], addr, n)
	s, err := c.transact(id, InstRead, c.par, int(n), true)
	if err != nil {
		return nil, err
	}
	c.data = append(c.data[:0], s.Params...)
	return c.data, nil
}

// Write writes data at addr on device id and waits for its status, unless
// id is BroadcastID, which gets none.
func (c *Client) Write(id byte, addr uint16, data []byte) error {
	return c.write(InstWrite, id, addr, data)
}

// RegWrite stages a write that Action applies, to start several devices at
// once.
func (c *Client) RegWrite(id byte, addr uint16, data []byte) error {
	return c.write(InstRegWrite, id, addr, data)
}

func (c *Client) write(inst Instruction, id byte, addr uint16, data []byte) error {
	if err := checkTarget(id); err != nil {
		return err
	}
	if len(data) == 0 {
		return invalid("write of 0 bytes")
	}
	c.par = AppendWriteParams(c.par[:0], addr, data)
	_, err := c.transact(id, inst, c.par, 0, true)
	return err
}

// Action applies the writes staged by RegWrite.
func (c *Client) Action(id byte) error {
	if err := checkTarget(id); err != nil {
		return err
	}
	_, err := c.transact(id, InstAction, nil, 0, true)
	return err
}

// Reboot restarts device id, the only way to clear a hardware error that
// cut its torque. It is not retried: a lost status may hide a reboot already
// under way, which would ignore a second request.
func (c *Client) Reboot(id byte) error {
	if err := checkTarget(id); err != nil {
		return err
	}
	_, err := c.transact(id, InstReboot, nil, 0, false)
	return err
}

// FactoryReset restores device id's control table, keeping what opt says.
// Devices ignore a broadcast ResetAll, so it is refused here. Not retried.
func (c *Client) FactoryReset(id byte, opt ResetOption) error {
	if err := checkTarget(id); err != nil {
		return err
	}
	if id == BroadcastID && opt == ResetAll {
		return invalid("devices ignore a broadcast factory reset of everything")
	}
	c.par = AppendFactoryResetParams(c.par[:0], opt)
	_, err := c.transact(id, InstFactoryReset, c.par, 0, false)
	return err
}

// Clear resets the multi-turn count or clears errors of device id.
func (c *Client) Clear(id byte, mode ClearMode) error {
	if err := checkTarget(id); err != nil {
		return err
	}
	c.par = AppendClearParams(c.par[:0], mode)
	_, err := c.transact(id, InstClear, c.par, 0, true)
	return err
}

// SyncWrite writes n bytes at addr on every device in ids, ids[i] taking
// data[i*n:(i+1)*n]. Devices do not answer, so nothing confirms delivery.
func (c *Client) SyncWrite(addr, n uint16, ids []byte, data []byte) error {
	if err := checkIDs(ids); err != nil {
		return err
	}
	if n == 0 || len(data) != len(ids)*int(n) {
		return invalid("sync write of %d bytes for %d IDs x %d", len(data), len(ids), n)
	}
	c.par = AppendSyncWriteParams(c.par[:0], addr, n, ids, data)
	c.tx = AppendInstruction(c.tx[:0], BroadcastID, InstSyncWrite, c.par)
	return c.send()
}

// BulkWrite writes each request's data to its device and address. Devices
// do not answer.
func (c *Client) BulkWrite(reqs []BulkWriteReq) error {
	if len(reqs) == 0 {
		return invalid("bulk write of no devices")
	}
	var seen [4]uint64
	for _, r := range reqs {
		if err := checkUnique(&seen, r.ID); err != nil {
			return err
		}
		if len(r.Data) == 0 || len(r.Data) > 0xFFFF {
			return invalid("bulk write of %d bytes to ID %d", len(r.Data), r.ID)
		}
	}
	c.par = AppendBulkWriteParams(c.par[:0], reqs)
	c.tx = AppendInstruction(c.tx[:0], BroadcastID, InstBulkWrite, c.par)
	return c.send()
}

// SyncRead reads n bytes at addr from every device in ids. It returns one
// Result per ID in ids order. A device that does not answer gets a
// *TimeoutError without failing the others; lost or damaged replies are
// asked for again (only from the devices concerned) up to Config.Attempts
// times. The error is nil when every device answered, a *PartialError when
// some did not, or an *IOError. Results are valid until the next call on c.
func (c *Client) SyncRead(addr, n uint16, ids []byte) ([]Result, error) {
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	if err := checkReply(n); err != nil {
		return nil, err
	}
	c.reqs = c.reqs[:0]
	for _, id := range ids {
		c.reqs = append(c.reqs, BulkReadReq{ID: id, Addr: addr, Len: n})
	}
	return c.multiRead(InstSyncRead)
}

// BulkRead reads a different address and length from each device, as
// SyncRead does.
func (c *Client) BulkRead(reqs []BulkReadReq) ([]Result, error) {
	if len(reqs) == 0 {
		return nil, invalid("bulk read of no devices")
	}
	var seen [4]uint64
	for _, r := range reqs {
		if err := checkUnique(&seen, r.ID); err != nil {
			return nil, err
		}
		if err := checkReply(r.Len); err != nil {
			return nil, err
		}
	}
	c.reqs = append(c.reqs[:0], reqs...)
	return c.multiRead(InstBulkRead)
}

// FastSyncRead is SyncRead answered by a single packet that the devices
// build together, which saves the per-packet overhead on the bus. Needs
// firmware that supports it; the reference does not use it.
func (c *Client) FastSyncRead(addr, n uint16, ids []byte) ([]Result, error) {
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	if err := checkReply(n); err != nil {
		return nil, err
	}
	if 1+len(ids)*(int(n)+4) > MaxLen {
		return nil, invalid("fast sync reply of %d IDs x %d bytes exceeds %d", len(ids), n, MaxLen)
	}
	c.reqs = c.reqs[:0]
	for _, id := range ids {
		c.reqs = append(c.reqs, BulkReadReq{ID: id, Addr: addr, Len: n})
	}
	return c.multiRead(InstFastSyncRead)
}

// WriteRaw is the reference's passthrough: it writes packet as is, waits up
// to wait (DefaultRawWait if not positive) for bytes, and returns whatever
// arrived, stopping early once the line goes quiet after some bytes. No
// reply is not an error. The slice is valid until the next call on c.
func (c *Client) WriteRaw(packet []byte, wait time.Duration) ([]byte, error) {
	if wait <= 0 {
		wait = DefaultRawWait
	}
	if err := c.flush(); err != nil {
		return nil, err
	}
	// Late replies to earlier requests are not handed out as the answer.
	want := rawRepliers(packet)
	for id := 0; id <= int(MaxID); id++ {
		if want[id>>6]&(1<<(id&63)) != 0 && c.isSuspect(byte(id)) {
			var ioe *IOError
			if err := c.barrier(byte(id)); errors.As(err, &ioe) {
				return nil, err
			}
		}
	}
	c.tx = append(c.tx[:0], packet...)
	if err := c.send(); err != nil {
		return nil, err
	}
	defer c.rawSuspects(want)
	c.raw = c.raw[:0]
	deadline := time.Now().Add(wait)
	for {
		d := time.Until(deadline)
		if d <= 0 {
			break
		}
		if len(c.raw) > 0 && d > rawIdle {
			d = rawIdle
		}
		if err := c.port.SetReadTimeout(d); err != nil {
			return c.raw, &IOError{Op: "set read timeout", Err: err}
		}
		n, err := c.port.Read(c.rbuf)
		c.raw = append(c.raw, c.rbuf[:n]...)
		if err != nil && !isTimeout(err) {
			return c.raw, &IOError{Op: "read", Err: err}
		}
		if n == 0 && len(c.raw) > 0 {
			break
		}
	}
	return c.raw, nil
}

// rawRepliers returns the set of devices a raw packet asks for a reply.
func rawRepliers(packet []byte) (want [4]uint64) {
	in, err := ParseInstruction(packet)
	if err != nil {
		return want
	}
	mark := func(id byte) {
		if id <= MaxID {
			want[id>>6] |= 1 << (id & 63)
		}
	}
	switch {
	case in.ID <= MaxID:
		mark(in.ID)
	case in.Inst == InstSyncRead || in.Inst == InstFastSyncRead:
		if len(in.Params) > 4 {
			for _, id := range in.Params[4:] {
				mark(id)
			}
		}
	case in.Inst == InstBulkRead:
		for p := in.Params; len(p) >= 5; p = p[5:] {
			mark(p[0])
		}
	}
	return want
}

// rawSuspects marks the devices of want whose reply to a raw packet did
// not come back within the wait: it may still arrive.
func (c *Client) rawSuspects(want [4]uint64) {
	c.p.Reset()
	c.p.Write(c.raw)
	for {
		s, ok := c.p.Next()
		if !ok {
			break
		}
		if s.ID <= MaxID {
			want[s.ID>>6] &^= 1 << (s.ID & 63)
		} else {
			want = [4]uint64{} // a fast sync read reply: consider it answered
		}
	}
	c.p.Reset()
	for i := range want {
		c.suspect[i] |= want[i]
	}
}

func checkID(id byte) error {
	if id > MaxID {
		return invalid("ID %d is not a device ID (0..%d)", id, MaxID)
	}
	return nil
}

// checkReply refuses reads whose reply the parser would reject as too long.
func checkReply(n uint16) error {
	if n == 0 || int(n)+4 > MaxLen {
		return invalid("read of %d bytes (1..%d)", n, MaxLen-4)
	}
	return nil
}

func checkTarget(id byte) error {
	if id > MaxID && id != BroadcastID {
		return invalid("ID %d is neither a device ID nor broadcast", id)
	}
	return nil
}

func checkUnique(seen *[4]uint64, id byte) error {
	if err := checkID(id); err != nil {
		return err
	}
	if seen[id>>6]&(1<<(id&63)) != 0 {
		return invalid("ID %d listed twice", id)
	}
	seen[id>>6] |= 1 << (id & 63)
	return nil
}

func checkIDs(ids []byte) error {
	if len(ids) == 0 {
		return invalid("no IDs")
	}
	var seen [4]uint64
	for _, id := range ids {
		if err := checkUnique(&seen, id); err != nil {
			return err
		}
	}
	return nil
}

// budget is how long to wait for replies: their bytes and ours on the wire
// (the write returns once the adapter has queued them, not sent them), the
// devices' return delay, and the margin.
func (c *Client) budget(txBytes, rxBytes, replies int) time.Duration {
	wire := time.Duration(txBytes+rxBytes) * 10 * time.Second / time.Duration(c.cfg.BaudRate)
	return wire + time.Duration(replies)*c.cfg.ReturnDelay + c.cfg.Margin
}

func (c *Client) pause(attempt int) {
	if attempt == 0 {
		return
	}
	c.stats.Retries++
	if c.cfg.RetryPause > 0 {
		time.Sleep(c.cfg.RetryPause)
	}
}

// flush discards input left over from earlier transactions. A late reply
// still on its way is not there yet: the barrier takes care of those.
func (c *Client) flush() error {
	c.p.Reset()
	if c.reset != nil {
		if err := c.reset.ResetInputBuffer(); err != nil {
			return &IOError{Op: "reset input", Err: err}
		}
		return nil
	}
	if err := c.port.SetReadTimeout(0); err != nil {
		return &IOError{Op: "set read timeout", Err: err}
	}
	for range 64 { // bounded, in case something keeps talking
		if n, err := c.port.Read(c.rbuf); n == 0 || err != nil {
			break
		}
	}
	return nil
}

func (c *Client) send() error { return c.sendBytes(c.tx) }

func (c *Client) sendBytes(b []byte) error {
	c.stats.Packets++
	n, err := c.port.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return &IOError{Op: "write", Err: err}
	}
	return nil
}

// recv returns the next valid status packet, reading the port as needed, or
// errDeadline. Params are valid until the next recv.
func (c *Client) recv(deadline time.Time) (Status, error) {
	for {
		if s, ok := c.p.Next(); ok {
			return s, nil
		}
		d := time.Until(deadline)
		if d <= 0 {
			return Status{}, errDeadline
		}
		if err := c.port.SetReadTimeout(d); err != nil {
			return Status{}, &IOError{Op: "set read timeout", Err: err}
		}
		n, err := c.port.Read(c.rbuf)
		if n > 0 {
			c.p.Write(c.rbuf[:n])
		}
		if err != nil && !isTimeout(err) {
			return Status{}, &IOError{Op: "read", Err: err}
		}
	}
}

// transact sends the instruction built from its arguments and returns the
// status of device id, retrying lost or damaged replies if retry is set.
// want is the expected number of params. A broadcast gets no status.
func (c *Client) transact(id byte, inst Instruction, params []byte, want int, retry bool) (Status, error) {
	c.tx = AppendInstruction(c.tx[:0], id, inst, params)
	if id == BroadcastID {
		return Status{}, c.send()
	}
	attempts := c.cfg.Attempts
	if !retry {
		attempts = 1
	}
	var err error
	for attempt := range attempts {
		c.pause(attempt)
		var s Status
		s, err = c.exchange(id, inst, want)
		if err == nil || !retryable(err) {
			return s, err
		}
	}
	return Status{}, err
}

func (c *Client) exchange(id byte, inst Instruction, want int) (Status, error) {
	if err := c.flush(); err != nil {
		return Status{}, err
	}
	if c.isSuspect(id) {
		if err := c.barrier(id); err != nil {
			return Status{}, err
		}
	}
	if err := c.send(); err != nil {
		return Status{}, err
	}
	c.ctr.add(id, Exchanges)
	deadline := time.Now().Add(c.budget(len(c.tx), 11+want, 1))
	crcBefore := c.p.Stats().CRCErrors
	for {
		s, err := c.recv(deadline)
		if err == errDeadline {
			// A bad CRC, or a packet still incomplete, means the device
			// probably answered and the answer was damaged.
			if c.p.Stats().CRCErrors > crcBefore || c.p.Buffered() > len(header)-1 {
				c.stats.Corrupt++
				c.ctr.add(id, Corrupted)
				return Status{}, &CorruptError{ID: id, Reason: "damaged or truncated reply"}
			}
			c.stats.Timeouts++
			c.ctr.add(id, Timeouts)
			c.setSuspect(id, true)
			return Status{}, &TimeoutError{ID: id}
		}
		if err != nil {
			return Status{}, err
		}
		if s.ID != id || s.Code() == 0 && (len(s.Params) != want || inst != InstPing && c.pingEcho(id, s.Params)) {
			// Another device's, or not the shape of an answer to this
			// request: a late reply to an earlier one.
			c.stats.Ignored++
			continue
		}
		c.noteAlert(id, s.Err)
		if err := s.Check(); err != nil {
			c.ctr.add(id, StatusErrors)
			return Status{}, err
		}
		return s, nil
	}
}

// multiRead runs a SyncRead, BulkRead or FastSyncRead of c.reqs.
func (c *Client) multiRead(inst Instruction) ([]Result, error) {
	total := 0
	for _, r := range c.reqs {
		total += int(r.Len)
	}
	if cap(c.data) < total {
		c.data = make([]byte, total)
	}
	c.data = c.data[:total]
	c.res, c.state = c.res[:0], c.state[:0]
	off := 0
	for _, r := range c.reqs {
		end := off + int(r.Len)
		c.res = append(c.res, Result{ID: r.ID, Data: c.data[off:end:end]})
		c.state = append(c.state, statePending)
		off = end
	}
	for attempt := range c.cfg.Attempts {
		c.todo = c.todo[:0]
		for i, st := range c.state {
			if st != stateDone {
				c.state[i] = statePending
				c.todo = append(c.todo, i)
			}
		}
		if len(c.todo) == 0 {
			break
		}
		c.pause(attempt)
		if err := c.multiOnce(inst); err != nil {
			return nil, err
		}
	}
	failed := 0
	for _, r := range c.res {
		if r.Err != nil {
			failed++
		}
	}
	if failed == 0 {
		return c.res, nil
	}
	pe := &PartialError{Total: len(c.res), Errs: make([]error, 0, failed)}
	for _, r := range c.res {
		if r.Err != nil {
			pe.Errs = append(pe.Errs, r.Err)
		}
	}
	return c.res, pe
}

// multiOnce asks the devices in c.todo once and settles their results.
func (c *Client) multiOnce(inst Instruction) error {
	if err := c.flush(); err != nil {
		return err
	}
	// Devices whose earlier reply may still come answer a barrier first;
	// those that do not are left out of this attempt.
	kept := c.todo[:0]
	for _, i := range c.todo {
		id := c.res[i].ID
		if c.isSuspect(id) {
			if err := c.barrier(id); err != nil {
				var te *TimeoutError
				if !errors.As(err, &te) {
					return err
				}
				c.res[i].Err = te
				c.state[i] = stateAnswered
				continue
			}
		}
		kept = append(kept, i)
	}
	c.todo = kept
	if len(c.todo) == 0 {
		return nil
	}
	c.par = c.par[:0]
	rx := 0
	switch inst {
	case InstBulkRead:
		for _, i := range c.todo {
			c.par = AppendBulkReadParams(c.par, c.reqs[i:i+1])
			rx += 11 + int(c.reqs[i].Len)
		}
	default:
		r := c.reqs[c.todo[0]]
		c.ids = c.ids[:0]
		for _, i := range c.todo {
			c.ids = append(c.ids, c.reqs[i].ID)
		}
		c.par = AppendSyncReadParams(c.par, r.Addr, r.Len, c.ids)
		rx = len(c.todo) * (11 + int(r.Len))
		if inst == InstFastSyncRead {
			rx = 10 + len(c.todo)*(4+int(r.Len))
		}
	}
	c.tx = AppendInstruction(c.tx[:0], BroadcastID, inst, c.par)
	if err := c.send(); err != nil {
		return err
	}
	if c.ctr != nil {
		for _, i := range c.todo {
			c.ctr.add(c.res[i].ID, Exchanges)
		}
	}
	deadline := time.Now().Add(c.budget(len(c.tx), rx, len(c.todo)))
	waiting := len(c.todo)
	for waiting > 0 {
		s, err := c.recv(deadline)
		if err == errDeadline {
			break
		}
		if err != nil {
			return err
		}
		if inst == InstFastSyncRead {
			if s.ID != BroadcastID {
				c.stats.Ignored++
				continue
			}
			n := int(c.reqs[c.todo[0]].Len)
			var perr error
			c.fast, perr = ParseFastSyncRead(c.fast[:0], s, n)
			if perr != nil {
				c.stats.Corrupt++
				for _, i := range c.todo {
					if c.state[i] == statePending {
						c.ctr.add(c.res[i].ID, Corrupted)
						c.res[i].Err = &CorruptError{ID: c.res[i].ID, Reason: "malformed fast sync read reply"}
						c.state[i] = stateAnswered
					}
				}
				break
			}
			for _, fr := range c.fast {
				if i := c.pendingIndex(fr.ID); i >= 0 {
					c.settle(i, fr.Err, fr.Data)
				}
			}
			break // one packet carries every reply there will be
		}
		i := c.pendingIndex(s.ID)
		if i < 0 || s.Code() == 0 && (len(s.Params) != len(c.res[i].Data) || c.pingEcho(s.ID, s.Params)) {
			// Not asked for, or not the shape of an answer to this read:
			// a late reply to an earlier request.
			c.stats.Ignored++
			continue
		}
		c.settle(i, s.Err, s.Params)
		waiting--
	}
	for _, i := range c.todo {
		if c.state[i] == statePending {
			c.stats.Timeouts++
			c.ctr.add(c.res[i].ID, Timeouts)
			c.res[i].Err = &TimeoutError{ID: c.res[i].ID}
			c.setSuspect(c.res[i].ID, true)
		}
	}
	return nil
}

func (c *Client) pendingIndex(id byte) int {
	for _, i := range c.todo {
		if c.state[i] == statePending && c.res[i].ID == id {
			return i
		}
	}
	return -1
}

// settle records device i's reply in its result.
func (c *Client) settle(i int, errByte byte, data []byte) {
	r := &c.res[i]
	c.noteAlert(r.ID, errByte)
	r.Alert = errByte&0x80 != 0
	if err := statusErr(r.ID, errByte); err != nil {
		c.ctr.add(r.ID, StatusErrors)
		r.Err = err
		c.state[i] = stateDone
		if retryable(err) {
			c.state[i] = stateAnswered
		}
		return
	}
	if len(data) != len(r.Data) {
		c.stats.Corrupt++
		c.ctr.add(r.ID, Corrupted)
		r.Err = &CorruptError{ID: r.ID, Reason: strconv.Itoa(len(data)) + " bytes of data, want " + strconv.Itoa(len(r.Data))}
		c.state[i] = stateAnswered
		return
	}
	copy(r.Data, data)
	r.Err = nil
	c.state[i] = stateDone
}
