// Package hrtimer is a one-shot alarm with the kernel's high-resolution
// precision, for the few waits that must end on time: the control tick and
// the simulated bus's replies.
//
// Go's own timers are woken by the runtime's network poller, whose epoll
// timeout counts whole milliseconds (runtime/netpoll_epoll.go), so on
// Linux a timer fires up to a millisecond late whenever the process is
// otherwise idle: a 5 ms control period comes out as 5.0 to 6.0 ms. A
// timerfd is a file the poller watches: its expiry is an I/O event,
// delivered at the expiry with tens of µs of wake-up latency, and the
// waiting goroutine blocks in the poller like any network read, with no
// thread held and no CPU spent until then.
//
// Where timerfd does not exist (other systems), New returns nil and
// callers wait with Go timers.
package hrtimer
