// Package datasets is the datasets actor: it makes recorded-move datasets
// available on disk, downloading a missing one from the Hugging Face
// endpoint into the hub cache (Hub), as the reference does on a cache miss
// (huggingface_hub's snapshot_download), so that the desktop app's emotion
// and dance wheels and the SDK's play_recorded_move work on a fresh robot.
//
// Design: the actor answers EnsureDataset and ListDataset. The disk is
// looked at, and each download runs, on goroutines that report back by
// message; the actor's pure core (Core) only keeps which downloads run and
// who waits for each, so one download per dataset runs at a time and every
// concurrent request waits for that one. A download is a job of the job
// register (its log: files done of total, bytes), cancellable through it.
// The moves actor never waits on a download: it asks this actor from the
// goroutine that loads a recorded move.
//
// Tested against an httptest server speaking the Hub's API (revision,
// paginated tree listing, resolve, 302 to a "CDN" host) written from
// huggingface_hub's client code (hf_api.py, file_download.py,
// _snapshot_download.py): the cache layout huggingface_hub reads, no second
// download, sha256 and git-blob-id checks, truncation, limits, unsafe
// listing paths, offline, private datasets and the token, and the actor's
// shared downloads and job log. The fake and the cache were also checked
// against Hugging Face's JavaScript client, @huggingface/hub 2.17.5, which
// shares huggingface_hub's cache layout: it downloads from the fake, reads
// reachyd's downloads and reachyd reads its (interop_test.go, run when
// REACHYD_HF_JS names an install of it). End to end in cmd/reachyd.
package datasets

import "github.com/asynkron/protoactor-go/actor"

// Waiter is a request waiting for a download.
type Waiter struct {
	// To gets the answer (nil: nobody waits, as for a preload at startup).
	To *actor.PID
	// List asks for the dataset's moves (DatasetMoves) rather than
	// DatasetReady.
	List bool
}

// Core keeps the downloads in flight and their waiters. Not safe for
// concurrent use; no I/O.
type Core struct {
	inflight map[string]*flight
}

type flight struct {
	job     string
	waiters []Waiter
}

// NewCore returns an idle core.
func NewCore() *Core { return &Core{inflight: map[string]*flight{}} }

// Join adds w to the dataset's download. When none runs, it records one
// under the job id newJob returns and start is true: the caller starts it.
func (c *Core) Join(dataset string, w Waiter, newJob func() string) (job string, start bool) {
	if f, ok := c.inflight[dataset]; ok {
		f.waiters = append(f.waiters, w)
		return f.job, false
	}
	f := &flight{job: newJob(), waiters: []Waiter{w}}
	c.inflight[dataset] = f
	return f.job, true
}

// Done ends the dataset's download and returns its waiters, in the order
// they came, and its job.
func (c *Core) Done(dataset string) (string, []Waiter) {
	f, ok := c.inflight[dataset]
	if !ok {
		return "", nil
	}
	delete(c.inflight, dataset)
	return f.job, f.waiters
}

// Running reports whether a download of the dataset runs, and its job.
func (c *Core) Running(dataset string) (string, bool) {
	f, ok := c.inflight[dataset]
	if !ok {
		return "", false
	}
	return f.job, true
}

// Waiting is the number of requests waiting for the dataset's download.
func (c *Core) Waiting(dataset string) int {
	if f, ok := c.inflight[dataset]; ok {
		return len(f.waiters)
	}
	return 0
}

// Len is the number of downloads in flight.
func (c *Core) Len() int { return len(c.inflight) }
