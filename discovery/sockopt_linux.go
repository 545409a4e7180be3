package discovery

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// controlReuse lets the socket share UDP 5353 with the host's own
// responder and the browsers on the host (avahi and python-zeroconf set
// SO_REUSEADDR too; SO_REUSEPORT is left off so that unicast packets to
// 5353 are not spread over a group that includes this socket), and turns IP_MULTICAST_ALL off
// so that only the groups joined on this socket's interfaces are delivered
// to it (Linux otherwise delivers every group any socket of the host
// joined); packets are still filtered by their arrival interface.
func controlReuse(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
			return
		}
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
	})
	if err != nil {
		return err
	}
	return serr
}
