//go:build linux && (amd64 || arm64)

package doa

import (
	"testing"
	"unsafe"
)

// The layout of struct usbdevfs_ctrltransfer and the ioctl number, as
// <linux/usbdevice_fs.h> gives them on 64-bit Linux.
func TestCtrlTransferLayout(t *testing.T) {
	var ct ctrlTransfer
	if unsafe.Sizeof(ct) != 24 {
		t.Errorf("size %d", unsafe.Sizeof(ct))
	}
	offsets := []uintptr{unsafe.Offsetof(ct.requestType), unsafe.Offsetof(ct.request), unsafe.Offsetof(ct.value),
		unsafe.Offsetof(ct.index), unsafe.Offsetof(ct.length), unsafe.Offsetof(ct.timeout), unsafe.Offsetof(ct.data)}
	want := []uintptr{0, 1, 2, 4, 6, 8, 16}
	for i := range want {
		if offsets[i] != want[i] {
			t.Errorf("field %d at %d, want %d", i, offsets[i], want[i])
		}
	}
	if usbdevfsControl != 0xc0185500 {
		t.Errorf("USBDEVFS_CONTROL = %#x", usbdevfsControl)
	}
}
