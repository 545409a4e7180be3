package hw

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// USB identity of the robot's audio board, whose serial number identifies
// the robot (the reference's hardware_id).
const (
	audioVendor  = "38fb"
	audioProduct = "1001"
)

// HardwareID returns the first 16 hex digits of the SHA-256 of the audio
// board's USB serial number, or "" when no board is plugged in.
func HardwareID() string { return hardwareID("/sys/bus/usb/devices") }

func hardwareID(root string) string {
	serial := audioSerial(root)
	if serial == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(serial))
	return hex.EncodeToString(sum[:])[:16]
}

// audioSerial is the audio board's USB serial number under the sysfs USB
// device folder root ("" when no board is plugged in).
func audioSerial(root string) string {
	devs, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	read := func(dir, name string) string {
		b, err := os.ReadFile(filepath.Join(root, dir, name))
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	for _, d := range devs {
		if strings.EqualFold(read(d.Name(), "idVendor"), audioVendor) && strings.EqualFold(read(d.Name(), "idProduct"), audioProduct) {
			if serial := read(d.Name(), "serial"); serial != "" {
				return serial
			}
		}
	}
	return ""
}
