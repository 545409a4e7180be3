package doa

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reachyd/internal/pyfmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"reachyd/messages"
)

// ErrNoDevice is the reference's 503 when the audio board is absent (or
// cannot be opened).
var ErrNoDevice = &messages.Error{Kind: messages.KindUnavailable, Detail: "ReSpeaker audio board not available", Reason: "no_audio_board"}

// ErrUnknownParameter is returned for a name that is not in Params.
var ErrUnknownParameter = errors.New("unknown audio parameter")

// NotReadable is the reference's 404 for a parameter it cannot read: an
// unknown name, a write-only parameter, or text.
func NotReadable(name string) error {
	return &messages.Error{Kind: messages.KindNotFound, Detail: "Parameter " + pyfmt.Repr(name) + " could not be read", Reason: "parameter_unreadable"}
}

// USBID is a USB vendor and product id.
type USBID struct{ Vendor, Product uint16 }

// The board's ids: the current Reachy Mini Audio firmware first, then the
// older reSpeaker firmware (which works but should be updated).
var (
	BoardID    = USBID{0x38fb, 0x1001}
	OldBoardID = USBID{0x2886, 0x001a}
)

// Info locates a board on the USB bus.
type Info struct {
	ID          USBID
	Bus, Dev    int
	Path        string // usbfs node, /dev/bus/usb/BBB/DDD
	OldFirmware bool
}

// Find looks for the board in sysfs (sysRoot "" means /sys): the device
// folders of /sys/bus/usb/devices with its idVendor and idProduct. The
// current firmware wins over the old one. No board: ErrNoDevice.
func Find(sysRoot string) (Info, error) {
	if sysRoot == "" {
		sysRoot = "/sys"
	}
	base := filepath.Join(sysRoot, "bus", "usb", "devices")
	entries, err := os.ReadDir(base)
	if err != nil {
		return Info{}, ErrNoDevice
	}
	var old *Info
	for _, e := range entries {
		if strings.Contains(e.Name(), ":") {
			continue // an interface, not a device
		}
		dir := filepath.Join(base, e.Name())
		vid, err1 := readHex(filepath.Join(dir, "idVendor"))
		pid, err2 := readHex(filepath.Join(dir, "idProduct"))
		if err1 != nil || err2 != nil {
			continue
		}
		id := USBID{vid, pid}
		if id != BoardID && id != OldBoardID {
			continue
		}
		bus, err1 := readDec(filepath.Join(dir, "busnum"))
		dev, err2 := readDec(filepath.Join(dir, "devnum"))
		if err1 != nil || err2 != nil {
			continue
		}
		info := Info{ID: id, Bus: bus, Dev: dev, Path: fmt.Sprintf("/dev/bus/usb/%03d/%03d", bus, dev), OldFirmware: id == OldBoardID}
		if id == BoardID {
			return info, nil
		}
		if old == nil {
			old = &info
		}
	}
	if old != nil {
		return *old, nil
	}
	return Info{}, ErrNoDevice
}

// readAttr reads a small sysfs attribute.
func readAttr(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32))
	return strings.TrimSpace(string(b)), err
}

func readHex(path string) (uint16, error) {
	s, err := readAttr(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 16, 16)
	return uint16(v), err
}

func readDec(path string) (int, error) {
	s, err := readAttr(path)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, 8) // bus and device numbers are 1..255
	return int(v), err
}

// transport performs control transfers: the usbfs node in the daemon, a
// fake in tests.
type transport interface {
	control(s Setup, data []byte, timeout time.Duration) (int, error)
	close() error
}

// Timeouts and pacing of the control conversation.
const (
	// TransferTimeout bounds one control transfer (the reference leaves
	// pyusb's at 100 s, long enough to hang a request for good).
	TransferTimeout = time.Second
	// RetryPause is the wait between reads the firmware asked to retry.
	RetryPause = 10 * time.Millisecond
	// SettleTime is the wait after a write before reading it back.
	SettleTime = 100 * time.Millisecond
	// VerifyTolerance is how far a read-back value may be from the one
	// written.
	VerifyTolerance = 1e-3
)

// Device is an open audio board. Its methods are safe for concurrent use:
// one conversation at a time, since a read may take several transfers.
type Device struct {
	mu    sync.Mutex
	t     transport
	info  Info
	sleep func(time.Duration)
}

// Open opens the board Find located (its usbfs node must be writable: the
// udev rule of deploy/ grants it). Control transfers to the device need no
// claimed interface, so the kernel's audio driver keeps the board.
func Open(info Info) (*Device, error) {
	t, err := openUSBFS(info.Path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoDevice, info.Path, err)
	}
	return newDevice(t, info), nil
}

// OpenBoard finds and opens the board; ErrNoDevice when there is none.
func OpenBoard() (*Device, error) {
	info, err := Find("")
	if err != nil {
		return nil, err
	}
	return Open(info)
}

func newDevice(t transport, info Info) *Device {
	return &Device{t: t, info: info, sleep: time.Sleep}
}

// Info says which board this is.
func (d *Device) Info() Info { return d.info }

// Close releases the usbfs node.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t.close()
}

// readRaw reads p's reply, retrying while the firmware asks to.
func (d *Device) readRaw(p Param) ([]byte, error) {
	s := ReadRequest(p)
	buf := make([]byte, s.Length)
	for attempt := 1; ; attempt++ {
		n, err := d.t.control(s, buf, TransferTimeout)
		if err != nil {
			return nil, err
		}
		reply := buf[:n]
		if len(reply) == 0 {
			return nil, errShortReply
		}
		switch reply[0] {
		case StatusOK:
			return reply, nil
		case StatusRetry:
			if attempt >= MaxAttempts {
				return nil, fmt.Errorf("no answer after %d attempts", MaxAttempts)
			}
			d.sleep(RetryPause)
		default:
			return nil, fmt.Errorf("unknown status code: %d", reply[0])
		}
	}
}

func (d *Device) read(name string) ([]float64, error) {
	p, ok := Params[name]
	if !ok || !p.Access.Readable() || p.Type == tChar {
		return nil, NotReadable(name)
	}
	reply, err := d.readRaw(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	_, values, err := DecodeReply(p, reply)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return values, nil
}

// ReadParameter reads a parameter's values. A name it cannot read is the
// NotReadable error (404); a transfer failure is any other error (the
// reference's 500 "read_audio_parameter failed: ...").
func (d *Device) ReadParameter(name string) ([]float64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read(name)
}

// ReadText reads a text parameter (BLD_MSG, BLD_HOST, ...).
func (d *Device) ReadText(name string) (string, error) {
	p, ok := Params[name]
	if !ok || !p.Access.Readable() || p.Type != tChar {
		return "", NotReadable(name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	reply, err := d.readRaw(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	_, text, err := DecodeText(reply)
	return text, err
}

func (d *Device) write(name string, values []float64) error {
	p, ok := Params[name]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownParameter, name)
	}
	if !p.Access.Writable() {
		return fmt.Errorf("%s is read-only", name)
	}
	s, payload, err := WriteRequest(p, values)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := d.t.control(s, payload, TransferTimeout); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// WriteParameter writes a parameter's values.
func (d *Device) WriteParameter(name string, values []float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.write(name, values)
}

// Apply writes each parameter in turn, waiting SettleTime after each write
// and, with verify, reading it back, as the reference's apply_audio_config
// does. A parameter that fails does not stop the others; applied is false
// when any failed, and failures says why (for the log).
func (d *Device) Apply(params []messages.AudioParam, verify bool) (applied bool, failures []error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ap := range params {
		if err := d.write(ap.Name, ap.Values); err != nil {
			failures = append(failures, err)
			continue
		}
		d.sleep(SettleTime)
		if !verify {
			continue
		}
		got, err := d.read(ap.Name)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		if !near(got, ap.Values) {
			failures = append(failures, fmt.Errorf("%s: wrote %v, reads %v", ap.Name, ap.Values, got))
		}
	}
	return len(failures) == 0, failures
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > VerifyTolerance {
			return false
		}
	}
	return true
}

// Read implements Source: the board's DOA_VALUE_RADIANS, an angle (0 left,
// pi/2 front, pi right) and a speech flag.
func (d *Device) Read() (messages.DoA, error) {
	v, err := d.ReadParameter("DOA_VALUE_RADIANS")
	if err != nil {
		return messages.DoA{}, err
	}
	return messages.DoA{Valid: true, Angle: v[0], SpeechDetected: v[1] != 0}, nil
}
