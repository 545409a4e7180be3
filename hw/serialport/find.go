// Package serialport finds and opens the serial link to Reachy Mini's motor
// bus: the WCH USB bridge of the Lite, or the Raspberry Pi UART of the
// Wireless. Find reproduces the reference daemon's find_serial_port and its
// checks (same precedence, same error texts, which users and scripts grep
// for); Open wraps go.bug.st/serial into a dynamixel.Port.
package serialport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reachyd/internal/pyfmt"
	"runtime"
	"slices"
	"strings"
)

// Auto is the --serialport value that asks for detection.
const Auto = "auto"

// WirelessUART is the CM4 UART wired to the bus on Reachy Mini Wireless.
const WirelessUART = "/dev/ttyAMA3"

// VID and PID of the Lite's USB serial bridge (WCH, CH343 class), in the
// upper case the enumerator reports.
const (
	USBVID = "1A86"
	USBPID = "55D3"
)

// ErrNoPort is the reference's error when detection finds nothing; the text
// is the reference's, verbatim.
var ErrNoPort = errors.New("No Reachy Mini serial port found. Check USB connection and permissions. Or directly specify the serial port using --serialport.")

// MultiplePortsError is returned when detection finds several bridges:
// picking one would risk driving the wrong robot.
type MultiplePortsError struct {
	Ports []string
}

// Error is the reference's text, the list printed as Python prints a list
// of str.
func (e *MultiplePortsError) Error() string {
	return "Multiple Reachy Mini serial ports found " + pyfmt.List(e.Ports) + ". Please specify the serial port using --serialport."
}

// PortInfo describes one serial port, as go.bug.st/serial/enumerator
// reports it.
type PortInfo struct {
	Name     string // device path, e.g. /dev/ttyACM0, or COM3
	IsUSB    bool
	VID, PID string // USB IDs in hex, when IsUSB
}

// Finder locates the bus. Its fields are the system calls it makes, so tests
// can run without hardware; a nil field means the real one.
type Finder struct {
	// ListPorts enumerates serial ports with their USB IDs.
	// Default: enumerator.GetDetailedPortsList.
	ListPorts func() ([]PortInfo, error)
	// Exists reports whether a path exists (following symlinks, as
	// Python's os.path.exists). Default: os.Stat succeeds.
	Exists func(path string) bool
}

// Find is Finder{}.Find.
func Find(port string, wireless bool) (string, error) { return Finder{}.Find(port, wireless) }

// Candidates is Finder{}.Candidates.
func Candidates(wireless bool) ([]string, error) { return Finder{}.Candidates(wireless) }

// Find returns the port to open. An explicit path always wins and must
// exist. "auto" (or "") detects: exactly one candidate is required, else
// ErrNoPort or a *MultiplePortsError.
func (f Finder) Find(port string, wireless bool) (string, error) {
	if port != "" && port != Auto {
		if !f.exists(port) {
			return "", fmt.Errorf("serial port %q given with --serialport does not exist: %w", port, fs.ErrNotExist)
		}
		return port, nil
	}
	ports, err := f.Candidates(wireless)
	if err != nil {
		return "", err
	}
	switch len(ports) {
	case 0:
		return "", ErrNoPort
	case 1:
		return ports[0], nil
	}
	return "", &MultiplePortsError{Ports: ports}
}

// Candidates is the reference's find_serial_port. The wireless flag alone
// decides where to look, as in the reference: Wireless uses only its UART
// (when it exists), Lite only USB bridges with the robot's VID:PID, even if
// a UART of that name exists. Names are sorted, for a stable error text.
func (f Finder) Candidates(wireless bool) ([]string, error) {
	if wireless {
		if f.exists(WirelessUART) {
			return []string{WirelessUART}, nil
		}
		return nil, nil
	}
	list := f.ListPorts
	if list == nil {
		list = listPorts
	}
	details, err := list()
	if err != nil {
		return nil, fmt.Errorf("listing serial ports: %w", err)
	}
	var ports []string
	for _, d := range details {
		if !d.IsUSB || d.Name == "" {
			continue
		}
		if strings.EqualFold(d.VID, USBVID) && strings.EqualFold(d.PID, USBPID) {
			ports = append(ports, d.Name)
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports), nil
}

func (f Finder) exists(path string) bool {
	if f.Exists != nil {
		return f.Exists(path)
	}
	// Windows COM names are not filesystem paths; the reference's motor
	// controller accepts any name starting with COM there.
	if runtime.GOOS == "windows" && strings.HasPrefix(strings.ToUpper(path), "COM") {
		return true
	}
	_, err := os.Stat(path)
	return err == nil
}
