package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// JobUpdate is what FollowJob reports: new log lines, the job's status,
// and an estimate of its progress.
type JobUpdate struct {
	Command string
	Status  string
	Lines   []string
	// Progress is an estimate in [0, 1] from the log lines the daemon's
	// install, removal and download jobs write (the API carries no
	// percentage): it only grows, and is 1 exactly when the job is done.
	Progress float64
}

// FollowJob streams a job's log from WS /api/apps/ws/apps-manager/{id}
// (reachyd replays the lines written before the connection, then follows)
// and calls fn for every batch, in order, from the calling goroutine. It
// returns the job's final status once it is over: a failed job is a
// *JobError. An unknown job is an *APIError with status 404.
func (c *Client) FollowJob(ctx context.Context, id string, fn func(JobUpdate)) (*JobInfo, error) {
	if fn == nil {
		fn = func(JobUpdate) {}
	}
	path := "/api/apps/ws/apps-manager/" + seg(id)
	conn, err := c.dialWS(ctx, path)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	f := &jobFollower{fn: fn}
	var final *JobInfo
	for final == nil {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// A close, a reset or an oversized frame: the register
			// tells how the job ended.
			break
		}
		if f.notFound(data) {
			return nil, &APIError{Status: http.StatusNotFound, Detail: "Job ID not found"}
		}
		final = f.frame(data)
	}
	if final == nil {
		// The stream ended without a final batch: ask the register.
		j, err := c.JobStatus(ctx, id)
		if err != nil {
			return nil, err
		}
		if !j.Finished() {
			return j, &TransportError{Op: "WS " + path, Err: errors.New("the job stream ended before the job")}
		}
		var rest []string
		if f.seen < len(j.Logs) {
			rest = j.Logs[f.seen:]
		}
		f.deliver(j.Command, j.Status, rest)
		final = &JobInfo{Command: j.Command, Status: j.Status, Logs: f.lines}
	}
	if final.Status == JobFailed {
		tail := final.Logs
		if len(tail) > 10 {
			tail = tail[len(tail)-10:]
		}
		return final, &JobError{Command: final.Command, Logs: tail}
	}
	return final, nil
}

// WaitJob waits for a job's end without its log lines.
func (c *Client) WaitJob(ctx context.Context, id string) (*JobInfo, error) {
	return c.FollowJob(ctx, id, nil)
}

// maxKeptLines bounds the lines a follower keeps for its final JobInfo.
const maxKeptLines = 10000

// jobFollower parses the job stream: each new line comes as a raw text
// frame, then a JSON frame {"command","status","logs":[those lines]}.
// Only the JSON frames are used (they carry the lines); a raw line that
// happens to look like one is told apart by comparing it with the raw
// lines queued since the last batch, and a final batch must carry at
// least one line. (An app that prints a line and then a forged batch
// holding exactly that line can still end its own log's stream early.)
type jobFollower struct {
	fn       func(JobUpdate)
	raw      []string
	lines    []string
	seen     int
	progress float64
	command  string
}

type jobBatch struct {
	Command *string   `json:"command"`
	Status  *string   `json:"status"`
	Logs    *[]string `json:"logs"`
}

func (f *jobFollower) notFound(data []byte) bool {
	if f.seen > 0 || len(f.raw) > 0 {
		return false
	}
	var e map[string]any
	return json.Unmarshal(data, &e) == nil && len(e) == 1 && e["error"] == "Job ID not found"
}

// frame handles one frame and returns the final JobInfo if it ends the job.
func (f *jobFollower) frame(data []byte) *JobInfo {
	var b jobBatch
	if err := json.Unmarshal(data, &b); err == nil && b.Command != nil && b.Status != nil && b.Logs != nil && f.matches(*b.Logs) &&
		// A job's end always comes with its last line ("Job '...'
		// completed successfully" or "failed with error: ..."): an
		// empty final batch is an output line that looks like one.
		!((*b.Status == JobDone || *b.Status == JobFailed) && len(*b.Logs) == 0) {
		f.raw = f.raw[:0]
		f.deliver(*b.Command, *b.Status, *b.Logs)
		if *b.Status == JobDone || *b.Status == JobFailed {
			return &JobInfo{Command: *b.Command, Status: *b.Status, Logs: f.lines}
		}
		return nil
	}
	if len(f.raw) < maxKeptLines {
		f.raw = append(f.raw, string(data))
	}
	return nil
}

// matches reports whether a batch's lines are the raw lines queued before
// it (the daemon sends them first).
func (f *jobFollower) matches(logs []string) bool {
	if len(logs) != len(f.raw) {
		return false
	}
	for i := range logs {
		if logs[i] != f.raw[i] {
			return false
		}
	}
	return true
}

func (f *jobFollower) deliver(command, status string, lines []string) {
	f.command = command
	f.seen += len(lines)
	for _, l := range lines {
		f.progress = estimate(f.progress, l)
		if len(f.lines) < maxKeptLines {
			f.lines = append(f.lines, l)
		}
	}
	if status == JobDone {
		f.progress = 1
	}
	f.fn(JobUpdate{Command: command, Status: status, Lines: lines, Progress: f.progress})
}

// milestones are the lines reachyd's jobs write at known points of their
// work, with how far along each is.
var milestones = []struct {
	prefix string
	at     float64
}{
	{"Downloading HuggingFace Space", 0.10},
	{"Space found", 0.15},
	{"Copying ", 0.30},
	{"Extracting ", 0.30},
	{"Removing app", 0.30},
	{"Downloaded files", 0.40},
	{"Creating virtual environment", 0.50},
	{"Installing executable app", 0.70},
	{"Installing ", 0.60},
	{"Successfully installed", 0.95},
	{"Successfully uninstalled", 0.95},
}

var downloadedRe = regexp.MustCompile(`Downloaded (\d+)/(\d+) files`)

// estimate moves the progress estimate p on for one log line: a known
// milestone sets it (never back), a download count sets it in proportion,
// any other line creeps a little towards 90 %.
func estimate(p float64, line string) float64 {
	next := p + (0.9-p)*0.03
	if next < p {
		next = p
	}
	for _, m := range milestones {
		if strings.HasPrefix(line, m.prefix) {
			next = max(p, m.at)
			break
		}
	}
	if m := downloadedRe.FindStringSubmatch(line); m != nil {
		n, _ := strconv.Atoi(m[1])
		total, _ := strconv.Atoi(m[2])
		if total > 0 && n <= total {
			next = max(p, 0.05+0.85*float64(n)/float64(total))
		}
	}
	return min(next, 0.99)
}

// String renders a JobUpdate for logs.
func (u JobUpdate) String() string {
	return fmt.Sprintf("%s %s %.0f%% (%d lines)", u.Command, u.Status, 100*u.Progress, len(u.Lines))
}
