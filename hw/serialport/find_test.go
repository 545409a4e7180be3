package serialport

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
)

func usb(name, vid, pid string) PortInfo {
	return PortInfo{Name: name, IsUSB: true, VID: vid, PID: pid}
}

// fake builds a Finder over a fixed port list and set of existing paths.
func fake(ports []PortInfo, existing ...string) Finder {
	return Finder{
		ListPorts: func() ([]PortInfo, error) { return ports, nil },
		Exists:    func(p string) bool { return slices.Contains(existing, p) },
	}
}

var (
	bridge0  = usb("/dev/ttyACM0", "1A86", "55D3")
	bridge1  = usb("/dev/ttyACM1", "1a86", "55d3") // case must not matter
	other    = usb("/dev/ttyUSB0", "DEAD", "BEEF")
	sameVID  = usb("/dev/ttyUSB1", "1A86", "7523") // a CH340, not the robot
	notUSB   = PortInfo{Name: "/dev/ttyS0"}
	nameless = PortInfo{IsUSB: true, VID: "1A86", PID: "55D3"}
)

func TestFindNoPort(t *testing.T) {
	f := fake([]PortInfo{other, sameVID, notUSB, nameless})
	_, err := f.Find("auto", false)
	if !errors.Is(err, ErrNoPort) {
		t.Fatalf("err = %v, want ErrNoPort", err)
	}
	const want = "No Reachy Mini serial port found. Check USB connection and permissions. Or directly specify the serial port using --serialport."
	if err.Error() != want {
		t.Fatalf("message\n got %q\nwant %q", err.Error(), want)
	}
}

func TestFindOnePort(t *testing.T) {
	f := fake([]PortInfo{other, bridge0, notUSB, sameVID})
	for _, auto := range []string{"auto", ""} {
		got, err := f.Find(auto, false)
		if err != nil || got != "/dev/ttyACM0" {
			t.Fatalf("Find(%q) = %q, %v; want /dev/ttyACM0", auto, got, err)
		}
	}
}

func TestFindSeveralPorts(t *testing.T) {
	f := fake([]PortInfo{bridge1, other, bridge0})
	_, err := f.Find("auto", false)
	var me *MultiplePortsError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want *MultiplePortsError", err)
	}
	const want = "Multiple Reachy Mini serial ports found ['/dev/ttyACM0', '/dev/ttyACM1']. Please specify the serial port using --serialport."
	if err.Error() != want {
		t.Fatalf("message\n got %q\nwant %q", err.Error(), want)
	}
}

func TestFindUSBIgnoresUART(t *testing.T) {
	// Lite mode looks at USB only, as the reference does, even when the
	// UART exists.
	f := fake(nil, WirelessUART)
	if _, err := f.Find("auto", false); !errors.Is(err, ErrNoPort) {
		t.Fatalf("err = %v, want ErrNoPort", err)
	}
	f = fake([]PortInfo{bridge0}, WirelessUART)
	if got, err := f.Find("auto", false); err != nil || got != "/dev/ttyACM0" {
		t.Fatalf("Find = %q, %v", got, err)
	}
}

func TestFindWireless(t *testing.T) {
	// The UART is the only candidate; USB bridges are not looked at.
	f := fake([]PortInfo{bridge0, bridge1}, WirelessUART)
	f.ListPorts = func() ([]PortInfo, error) {
		t.Fatal("wireless detection enumerated USB ports")
		return nil, nil
	}
	if got, err := f.Find("auto", true); err != nil || got != WirelessUART {
		t.Fatalf("Find = %q, %v; want %s", got, err, WirelessUART)
	}
	f.Exists = func(string) bool { return false }
	if _, err := f.Find("auto", true); !errors.Is(err, ErrNoPort) {
		t.Fatalf("UART absent: err = %v, want ErrNoPort", err)
	}
}

func TestFindExplicit(t *testing.T) {
	f := fake([]PortInfo{bridge0, bridge1}, "/dev/reachy-mini")
	f.ListPorts = func() ([]PortInfo, error) {
		t.Fatal("explicit port enumerated")
		return nil, nil
	}
	for _, wireless := range []bool{false, true} {
		if got, err := f.Find("/dev/reachy-mini", wireless); err != nil || got != "/dev/reachy-mini" {
			t.Fatalf("Find = %q, %v", got, err)
		}
		_, err := f.Find("/dev/ttyACM9", wireless)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing explicit port: err = %v, want fs.ErrNotExist", err)
		}
		const want = `serial port "/dev/ttyACM9" given with --serialport does not exist: file does not exist`
		if err.Error() != want {
			t.Fatalf("message\n got %q\nwant %q", err.Error(), want)
		}
	}
}

func TestFindEnumerationError(t *testing.T) {
	boom := errors.New("boom")
	f := Finder{ListPorts: func() ([]PortInfo, error) { return nil, boom }}
	if _, err := f.Find("auto", false); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want wrapped boom", err)
	}
}

func TestDefaultFinderExists(t *testing.T) {
	dir := t.TempDir()
	if got, err := Find(dir, false); err != nil || got != dir {
		t.Fatalf("Find(existing) = %q, %v", got, err)
	}
	if _, err := Find(dir+"/nope", false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Find(missing) err = %v", err)
	}
}
