//go:build linux && (amd64 || arm64)

package doa

import (
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ctrlTransfer is struct usbdevfs_ctrltransfer of <linux/usbdevice_fs.h>
// on 64-bit Linux: five setup fields, the timeout in milliseconds, padding
// to 8, and the data pointer (24 bytes; checked by a test).
type ctrlTransfer struct {
	requestType uint8
	request     uint8
	value       uint16
	index       uint16
	length      uint16
	timeout     uint32
	data        unsafe.Pointer
}

// usbdevfsControl is USBDEVFS_CONTROL, _IOWR('U', 0, struct
// usbdevfs_ctrltransfer), in the generic ioctl encoding amd64 and arm64
// share.
const usbdevfsControl = 3<<30 | uint32(unsafe.Sizeof(ctrlTransfer{}))<<16 | 'U'<<8 | 0

// usbfs is an open /dev/bus/usb node. This is the only code of the package
// no test reaches without a board: it is kept to the system calls.
type usbfs struct{ fd int }

func openUSBFS(path string) (transport, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &usbfs{fd: fd}, nil
}

// control runs one control transfer; it returns how many bytes moved.
func (u *usbfs) control(s Setup, data []byte, timeout time.Duration) (int, error) {
	ct := ctrlTransfer{
		requestType: s.RequestType,
		request:     s.Request,
		value:       s.Value,
		index:       s.Index,
		length:      uint16(len(data)),
		timeout:     uint32(timeout / time.Millisecond),
	}
	if len(data) > 0 {
		ct.data = unsafe.Pointer(&data[0])
	}
	for {
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(u.fd), uintptr(usbdevfsControl), uintptr(unsafe.Pointer(&ct)))
		runtime.KeepAlive(data)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(r), nil
	}
}

func (u *usbfs) close() error { return unix.Close(u.fd) }
