// Package doa tells where sound comes from (direction of arrival, DoA) and
// tunes the robot's audio board, an XMOS XVF3800 (Seeed reSpeaker design,
// USB 38fb:1001 "Reachy Mini Audio", or 2886:001a with the older firmware).
// It backs /api/state/doa, the doa field of the state routes, and
// /api/audio/config/*.
//
// A Source answers one reading at a time; the media actor polls it (the
// reference polls every 100 ms while someone asks, and stops after 60 s
// without a reader). Two sources:
//
//   - Device, the board itself, read and written through Linux's usbfs
//     (/dev/bus/usb/BBB/DDD) with vendor control transfers: the XVF3800's
//     control protocol as the reference uses it (media/audio_control_utils.py):
//     bRequest 0, wValue the command id (bit 7 set to read), wIndex the
//     resource id; a read answers a status byte (0 done, 64 retry: read
//     again, up to 100 times) then the values. DoA is DOA_VALUE_RADIANS
//     (resource 20, command 19): two floats, the angle (0 left, pi/2 front,
//     pi right) and a speech flag. Find locates the board by scanning
//     /sys/bus/usb/devices for its ids. Control transfers to the device need
//     no claimed interface, so the kernel's audio driver keeps streaming.
//   - Sim, a made-up talker who walks slowly from one side of the robot to
//     the other and back, speaking three seconds out of five, driven by an
//     injected clock, for the simulated robot.
//
// Device also reads and writes the board's named parameters (Params: the
// reference's table of ids, counts, types and access). Without a board,
// Find, Open and OpenBoard return ErrNoDevice, the reference's 503 "ReSpeaker
// audio board not available"; a name that cannot be read is NotReadable,
// its 404.
//
// Deliberate differences from the reference: integer parameters accept
// whole JSON numbers (the reference's REST route passes floats to an
// integer packer and fails); an unknown name is an error on write (the
// reference silently skips it, and reports success when not verifying); a
// write-only parameter is not readable; each transfer times out after 1 s
// (pyusb's default the reference keeps is 100 s).
//
// Tested: request layouts and reply decoding against byte vectors for
// every value type; the retry loop, verification and failures against a fake
// board that keeps parameter memory; discovery against a fake sysfs tree;
// the usbfs struct layout and ioctl number against <linux/usbdevice_fs.h>;
// the simulated talker at fixed clock times. Not tested: the ioctl itself
// (usbfs_linux.go), for want of a board here.
package doa

import (
	"math"
	"time"

	"reachyd/messages"
)

// Source gives the current direction of arrival.
type Source interface {
	Read() (messages.DoA, error)
}

// The simulated talker's rhythm.
const (
	// SimSweep is the time the talker takes to walk from the front to one
	// side, to the other side, and back to the front.
	SimSweep = 24 * time.Second
	// SimSpeechCycle and SimSpeechOn: the talker speaks for SimSpeechOn at
	// the start of every SimSpeechCycle.
	SimSpeechCycle = 5 * time.Second
	SimSpeechOn    = 3 * time.Second
)

// Sim is a simulated source: a talker starting in front of the robot,
// walking to its right (pi), over to its left (0) and back, speaking
// periodically. Readings depend only on the time since the Sim was made.
type Sim struct {
	now   func() time.Time
	start time.Time
}

// NewSim returns a simulated source on the given clock (time.Now if nil).
func NewSim(now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	return &Sim{now: now, start: now()}
}

// Read implements Source.
func (s *Sim) Read() (messages.DoA, error) {
	t := max(s.now().Sub(s.start), 0)
	phase := float64(t%SimSweep) / float64(SimSweep)
	angle := math.Pi/2 + math.Pi/2*math.Sin(2*math.Pi*phase)
	return messages.DoA{
		Valid:          true,
		Angle:          angle,
		SpeechDetected: t%SimSpeechCycle < SimSpeechOn,
	}, nil
}
