package dynamixel

import "sync/atomic"

// Outcome is a kind of per-device event a Counters tallies.
type Outcome int

// The outcomes counted per device. Every attempt counts (retries included),
// so a bus that only works thanks to its retries shows it.
const (
	// Exchanges: requests that expected a reply from the device (pings,
	// reads, writes with status, each device of a sync or bulk read,
	// barriers). Sync writes, which have no reply, are not counted.
	Exchanges Outcome = iota
	// Timeouts: expected replies that never came.
	Timeouts
	// Corrupted: replies that came damaged (bad CRC, truncated, wrong size).
	Corrupted
	// StatusErrors: replies in which the device reported an error (bad
	// instruction, range, access, or a CRC error on what it received).
	StatusErrors
	// HardwareAlerts: replies with the alert bit set: the device has a
	// hardware error latched (overload, overheating, voltage...).
	HardwareAlerts
	numOutcomes
)

// OutcomeNames names the outcomes, in Outcome order, for metrics labels.
var OutcomeNames = [numOutcomes]string{"exchange", "timeout", "corrupt", "status_error", "hardware_alert"}

// Counters counts exchanges and their failures per device ID. It is written
// by the one goroutine that owns a Client and read at any time by others
// (a metrics scrape): every count is an atomic, and counting costs one
// uncontended atomic add per device per exchange. It is shared across
// clients, so counts survive the bus being reopened. The zero value is ready.
type Counters struct {
	dev [MaxID + 1][numOutcomes]atomic.Uint64
}

func (c *Counters) add(id byte, o Outcome) {
	if c != nil && int(id) < len(c.dev) {
		c.dev[id][o].Add(1)
	}
}

// Get returns device id's count of outcome o.
func (c *Counters) Get(id byte, o Outcome) uint64 {
	if c == nil || int(id) >= len(c.dev) || o < 0 || o >= numOutcomes {
		return 0
	}
	return c.dev[id][o].Load()
}

// SetCounters makes the client count its exchanges per device in ctr (nil
// stops counting).
func (c *Client) SetCounters(ctr *Counters) { c.ctr = ctr }
