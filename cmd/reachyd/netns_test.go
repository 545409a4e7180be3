package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests that need fixed ports (the reference's 8443) or a host with no
// network but loopback (WebRTC offering loopback candidates by itself) run
// their daemon and browser in a network namespace of their own, created
// here with ip netns: nothing they do reaches the host's network.

var netnsSeq atomic.Int64

// newNetns creates a network namespace with only loopback up, removed at
// the end of the test. It skips (or fails under REACHYD_REQUIRE_MEDIA)
// where namespaces cannot be made (not root, no ip).
func newNetns(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("reachyd-test-%d-%d", os.Getpid(), netnsSeq.Add(1))
	skip := func(format string, args ...any) {
		if os.Getenv("REACHYD_REQUIRE_MEDIA") != "" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		skip("no ip command (iproute2): %v", err)
	}
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		skip("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", name).Run() })
	if out, err := exec.Command("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up in %s: %v: %s", name, err, out)
	}
	return name
}

// inNetns runs fn on an OS thread switched into the namespace: sockets it
// creates belong to the namespace and keep working after the thread is
// switched back. A thread that cannot be switched back is never reused.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		} // else: the goroutine ends locked, and Go retires the thread
		errc <- ferr
	}()
	return <-errc
}

// listenInNetns opens a TCP listener on 127.0.0.1 inside the namespace.
func listenInNetns(t testing.TB, ns string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := inNetns(ns, func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// netnsClient is an HTTP client whose connections are made inside ns.
func netnsClient(ns string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := inNetns(ns, func() (err error) {
				c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}}
}
