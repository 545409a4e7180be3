//go:build !linux

package discovery

import "syscall"

// controlReuse does nothing outside Linux: reachyd runs on Linux, and
// elsewhere the system's responder may hold the port.
func controlReuse(_, _ string, _ syscall.RawConn) error { return nil }
