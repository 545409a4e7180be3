//go:build !(linux && (amd64 || arm64))

package doa

import (
	"errors"
	"runtime"
)

// The board is read through Linux's usbfs with the 64-bit struct layout;
// elsewhere there is no board (the daemon falls back to the simulated
// source or none).
func openUSBFS(string) (transport, error) {
	return nil, errors.New("doa: the audio board is only supported on 64-bit Linux, not " + runtime.GOOS + "/" + runtime.GOARCH)
}
