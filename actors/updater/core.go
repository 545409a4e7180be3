// Package updater is the self-update actor behind the reference's
// wireless-only /update routes and the data channel's start_update: it
// checks the signed release index, runs an update as the job
// update_reachy_mini (selfupdate.Updater does the work: download, verify,
// --version check, atomic swap), reports each step in the job log and as
// update_progress broadcasts on /ws/sdk, and, once the new binary is in
// place, asks main to restart the process (an exit that systemd restarts,
// or a re-exec).
//
// The Core is the pure part: whether an update is being checked, runs, or
// is installed and waiting for the restart; it decides what is refused
// ("Update already in progress", "Update is in progress"). It lives in a
// Cell the parent keeps, so a crash of the actor while a job runs does not
// let a second update start. Network and file work runs on goroutines that
// report back to the actor.
//
// Tested with the core driven directly, and the actor against a local
// release server (selfupdate/releasetest) with the real jobs actor and a
// recording hub; end to end through the daemon's routes in cmd/reachyd.
package updater

import "reachyd/messages"

// Phase is where the updater is.
type Phase uint8

const (
	// Idle: no update; anything may start one.
	Idle Phase = iota
	// Checking: a start is checking the index; a second start is refused.
	Checking
	// Running: the job runs.
	Running
	// Installed: the new binary is in place and the process is about to
	// restart; nothing more may start.
	Installed
)

// Core is the updater's state. Not safe for concurrent use.
type Core struct {
	phase Phase
	job   string
}

// Phase returns the current phase.
func (c *Core) Phase() Phase { return c.phase }

// Job returns the running (or last successful) job's id.
func (c *Core) Job() string { return c.job }

// Busy reports whether an update is under way (the reference's busy
// lock): /update/available is refused then.
func (c *Core) Busy() bool { return c.phase != Idle }

// Begin claims the updater for a start; the error is the reference's
// answer to a second start.
func (c *Core) Begin() error {
	if c.phase != Idle {
		return messages.ErrUpdateAlreadyInProgress
	}
	c.phase = Checking
	return nil
}

// Abort gives the updater back after a start was refused (no update, a
// source error).
func (c *Core) Abort() {
	if c.phase == Checking {
		c.phase = Idle
	}
}

// Started records the job a start began.
func (c *Core) Started(job string) {
	if c.phase == Checking {
		c.phase, c.job = Running, job
	}
}

// Ended records the end of a job: a failed update frees the updater for a
// retry; an installed one keeps it until the process restarts.
func (c *Core) Ended(job string, installed bool) {
	if c.phase != Running || c.job != job {
		return
	}
	if installed {
		c.phase = Installed
		return
	}
	c.phase = Idle
}
