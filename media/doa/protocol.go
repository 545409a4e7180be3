package doa

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Setup is the setup stage of a USB control transfer.
type Setup struct {
	RequestType uint8
	Request     uint8
	Value       uint16
	Index       uint16
	Length      uint16
}

// The XVF3800's control protocol over USB, as the reference speaks it: a
// vendor request to the device (bRequest 0) with the command id in wValue
// (bit 7 set to read) and the resource id in wIndex. A read answers a
// status byte followed by the values; the status says the firmware has not
// the answer yet (retry) or has it.
const (
	requestTypeIn  = 0xC0 // device to host, vendor, device
	requestTypeOut = 0x40 // host to device, vendor, device
	readFlag       = 0x80

	StatusOK    = 0
	StatusRetry = 64
	// MaxAttempts bounds the reads of one parameter while the firmware
	// answers StatusRetry.
	MaxAttempts = 100
)

// ReadRequest is the control transfer that reads p: the reply holds a
// status byte and Count values.
func ReadRequest(p Param) Setup {
	return Setup{
		RequestType: requestTypeIn,
		Value:       readFlag | uint16(p.Command),
		Index:       uint16(p.Resource),
		Length:      uint16(1 + p.Count*p.Type.size()),
	}
}

// WriteRequest is the control transfer that writes values to p, and its
// payload.
func WriteRequest(p Param, values []float64) (Setup, []byte, error) {
	payload, err := EncodeValues(p, values)
	if err != nil {
		return Setup{}, nil, err
	}
	return Setup{
		RequestType: requestTypeOut,
		Value:       uint16(p.Command),
		Index:       uint16(p.Resource),
		Length:      uint16(len(payload)),
	}, payload, nil
}

// EncodeValues lays out values as p's type wants them. The values come as
// JSON numbers: an integer parameter takes only whole numbers in its range
// (the reference's REST route crashes on them instead, since pydantic hands
// it floats), a float parameter only finite numbers a float32 can hold.
func EncodeValues(p Param, values []float64) ([]byte, error) {
	if len(values) != p.Count {
		return nil, fmt.Errorf("value count is not %d", p.Count)
	}
	size := p.Type.size()
	out := make([]byte, len(values)*size)
	for i, v := range values {
		b := out[i*size:]
		switch p.Type {
		case tFloat, tRadians:
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
				return nil, fmt.Errorf("value %v is not a float32", v)
			}
			binary.LittleEndian.PutUint32(b, math.Float32bits(float32(v)))
		case tUint8, tChar:
			if v != math.Trunc(v) || v < 0 || v > math.MaxUint8 {
				return nil, fmt.Errorf("value %v is not a byte", v)
			}
			b[0] = byte(v)
		case tInt32:
			if v != math.Trunc(v) || v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("value %v is not an int32", v)
			}
			binary.LittleEndian.PutUint32(b, uint32(int32(v)))
		case tUint32:
			if v != math.Trunc(v) || v < 0 || v > math.MaxUint32 {
				return nil, fmt.Errorf("value %v is not a uint32", v)
			}
			binary.LittleEndian.PutUint32(b, uint32(v))
		default:
			return nil, fmt.Errorf("unknown type %v", p.Type)
		}
	}
	return out, nil
}

var errShortReply = errors.New("short reply")

// DecodeReply reads the answer to ReadRequest(p). It returns the status
// byte; values only when the status is StatusOK. A text (char) parameter
// has no numeric values: use DecodeText.
func DecodeReply(p Param, reply []byte) (status byte, values []float64, err error) {
	if len(reply) == 0 {
		return 0, nil, errShortReply
	}
	if reply[0] != StatusOK {
		return reply[0], nil, nil
	}
	size := p.Type.size()
	if len(reply) < 1+p.Count*size {
		return reply[0], nil, fmt.Errorf("%w: %d bytes for %d %v values", errShortReply, len(reply), p.Count, p.Type)
	}
	values = make([]float64, p.Count)
	for i := range values {
		b := reply[1+i*size:]
		switch p.Type {
		case tFloat, tRadians:
			values[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		case tUint8:
			values[i] = float64(b[0])
		case tInt32:
			values[i] = float64(int32(binary.LittleEndian.Uint32(b)))
		case tUint32:
			values[i] = float64(binary.LittleEndian.Uint32(b))
		default:
			return reply[0], nil, fmt.Errorf("%v values are not numbers", p.Type)
		}
	}
	return reply[0], values, nil
}

// DecodeText reads the answer to ReadRequest(p) for a text parameter:
// the bytes after the status, up to the first NUL.
func DecodeText(reply []byte) (status byte, text string, err error) {
	if len(reply) == 0 {
		return 0, "", errShortReply
	}
	if reply[0] != StatusOK {
		return reply[0], "", nil
	}
	b := reply[1:]
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return reply[0], strings.ToValidUTF8(string(b), ""), nil
}
