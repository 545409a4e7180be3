// Package jobs is the job register: background jobs (daemon start/stop,
// app installs...) with their status and logs, and the subscribers of their
// log streams. The Register is a pure core driven by the actor shell.
package jobs

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/messages"
)

// Limits bound the register's memory.
type Limits struct {
	// MaxLines is the number of log lines kept per job (oldest dropped).
	MaxLines int
	// Keep is how long a finished job stays visible.
	Keep time.Duration
	// MaxJobs caps the number of jobs kept; the oldest finished ones go
	// first. Running jobs are never dropped.
	MaxJobs int
}

// DefaultLimits keeps a finished job for an hour.
var DefaultLimits = Limits{MaxLines: 10000, Keep: time.Hour, MaxJobs: 500}

type job struct {
	info       messages.JobInfo
	runner     *actor.PID
	finishedAt time.Time
	// dropped counts log lines discarded by MaxLines.
	dropped int
}

// Batch is what one message changed in one job: the new lines and the
// status after them. The shell turns it into frames for the job's watchers.
type Batch struct {
	ID      string
	Command string
	Status  messages.JobStatus
	Lines   []string
}

// Register is the pure job register. Not safe for concurrent use.
type Register struct {
	lim   Limits
	jobs  map[string]*job
	order []string
}

// New returns an empty register.
func New(lim Limits) *Register {
	if lim.MaxLines <= 0 {
		lim.MaxLines = DefaultLimits.MaxLines
	}
	if lim.MaxJobs <= 0 {
		lim.MaxJobs = DefaultLimits.MaxJobs
	}
	return &Register{lim: lim, jobs: map[string]*job{}}
}

// ErrNotFound is the reference's 404 for an unknown job.
var ErrNotFound = &messages.Error{Kind: messages.KindNotFound, Detail: "Job ID not found", Reason: "job_not_found"}

// Register creates a pending job; runner (may be nil) is the actor that can
// cancel it. A duplicate ID is an error.
func (r *Register) Register(id, command string, runner *actor.PID, now time.Time) error {
	if id == "" {
		return messages.Errorf(messages.KindBadRequest, "job id must not be empty")
	}
	if _, ok := r.jobs[id]; ok {
		return messages.Errorf(messages.KindConflict, "job %s already exists", id)
	}
	r.prune(now)
	r.jobs[id] = &job{runner: runner, info: messages.JobInfo{ID: id, Command: command, Status: messages.JobPending, Logs: []string{}}}
	r.order = append(r.order, id)
	return nil
}

// Progress moves a job to in_progress (unless finished) and appends lines.
func (r *Register) Progress(id string, lines []string) (Batch, error) {
	j, ok := r.jobs[id]
	if !ok {
		return Batch{}, ErrNotFound
	}
	if j.info.Status.Finished() {
		return Batch{}, messages.Errorf(messages.KindConflict, "job %s already finished", id)
	}
	j.info.Status = messages.JobInProgress
	r.appendLines(j, lines)
	return Batch{ID: id, Command: j.info.Command, Status: j.info.Status, Lines: lines}, nil
}

// Finish ends a job, appending the reference's closing log line.
func (r *Register) Finish(id, errText string, now time.Time) (Batch, error) {
	j, ok := r.jobs[id]
	if !ok {
		return Batch{}, ErrNotFound
	}
	if j.info.Status.Finished() {
		return Batch{}, messages.Errorf(messages.KindConflict, "job %s already finished", id)
	}
	var line string
	if errText == "" {
		j.info.Status = messages.JobDone
		line = fmt.Sprintf("Job '%s' completed successfully", j.info.Command)
	} else {
		j.info.Status = messages.JobFailed
		// The line is shown to API clients: server paths are cut.
		line = fmt.Sprintf("Job '%s' failed with error: %s", j.info.Command, messages.PublicText(errText))
	}
	j.finishedAt = now
	r.appendLines(j, []string{line})
	return Batch{ID: id, Command: j.info.Command, Status: j.info.Status, Lines: []string{line}}, nil
}

// Canceller returns the actor that can cancel a running job.
func (r *Register) Canceller(id string) (*actor.PID, error) {
	j, ok := r.jobs[id]
	switch {
	case !ok:
		return nil, ErrNotFound
	case j.info.Status.Finished():
		return nil, &messages.Error{Kind: messages.KindBadRequest, Detail: "Job already finished", Reason: "job_finished"}
	case j.runner == nil:
		return nil, &messages.Error{Kind: messages.KindBadRequest, Detail: fmt.Sprintf("Job '%s' cannot be cancelled", j.info.Command), Reason: "job_not_cancellable"}
	}
	return j.runner, nil
}

// Get returns a copy of a job's info.
func (r *Register) Get(id string, now time.Time) (messages.JobInfo, error) {
	r.prune(now)
	j, ok := r.jobs[id]
	if !ok {
		return messages.JobInfo{}, ErrNotFound
	}
	info := j.info
	info.Logs = append(make([]string, 0, len(j.info.Logs)), j.info.Logs...)
	return info, nil
}

// List returns every job, oldest first.
func (r *Register) List(now time.Time) []messages.JobInfo {
	r.prune(now)
	out := make([]messages.JobInfo, 0, len(r.order))
	for _, id := range r.order {
		info, _ := r.Get(id, now)
		out = append(out, info)
	}
	return out
}

func (r *Register) appendLines(j *job, lines []string) {
	j.info.Logs = append(j.info.Logs, lines...)
	if over := len(j.info.Logs) - r.lim.MaxLines; over > 0 {
		// Copy so the dropped prefix can be collected.
		j.info.Logs = append([]string(nil), j.info.Logs[over:]...)
		j.dropped += over
	}
}

// prune drops finished jobs past Keep, then the oldest finished jobs while
// over MaxJobs.
func (r *Register) prune(now time.Time) {
	kept := r.order[:0]
	for _, id := range r.order {
		j := r.jobs[id]
		if j.info.Status.Finished() && r.lim.Keep > 0 && now.Sub(j.finishedAt) > r.lim.Keep {
			delete(r.jobs, id)
			continue
		}
		kept = append(kept, id)
	}
	r.order = kept
	for i := 0; len(r.order) > r.lim.MaxJobs && i < len(r.order); {
		id := r.order[i]
		if r.jobs[id].info.Status.Finished() {
			delete(r.jobs, id)
			r.order = append(r.order[:i], r.order[i+1:]...)
			continue
		}
		i++
	}
}

// Len returns the number of jobs kept.
func (r *Register) Len() int { return len(r.jobs) }
