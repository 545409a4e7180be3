package hw

// DefaultPIN is the device PIN of a robot whose audio board cannot be read
// (the reference's fallback).
const DefaultPIN = "46879"

// DevicePIN is the robot's 5-character pairing PIN, printed on the robot:
// the last five characters of the audio board's USB serial number, or
// DefaultPIN without a board (the reference's get_pin). The Wi-Fi sealed
// exchange mixes it into its key derivation.
func DevicePIN() string { return devicePIN("/sys/bus/usb/devices") }

func devicePIN(root string) string {
	if s := audioSerial(root); len(s) >= 5 {
		return s[len(s)-5:]
	}
	return DefaultPIN
}
