// Package deathsig starts child processes that the kernel kills when the
// daemon dies (Linux's parent-death signal), and only then.
//
// Linux ties the parent-death signal to the thread that forked the child,
// not to the process: the child gets it when that thread exits. The Go
// runtime ends a thread when a goroutine locked to it returns without
// unlocking (golang/go#27505), and reachyd does that on purpose: the
// control loop's thread and the media pipelines' forking threads carry
// scheduling attributes that must not reach other goroutines. A child
// forked from a pool thread that such a goroutine later takes would be
// killed when the goroutine ends, long before the daemon does.
//
// Start forks the child from a goroutine locked to its thread, which stays
// there until the child has exited, so the signal fires only when the
// daemon dies. apps/procs and media/gst do the same inline: their forking
// goroutine also waits for the leader in order to end its process group,
// and media/gst's gives the thread a nice value and a slice that the child
// inherits.
package deathsig
