package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// App sources the API knows.
const (
	SourceHFSpace            = "hf_space"
	SourceDashboardSelection = "dashboard_selection"
	SourceLocal              = "local"
	SourceInstalled          = "installed"
)

// AppInfo is the API's AppInfo.
type AppInfo struct {
	Name        string         `json:"name"`
	SourceKind  string         `json:"source_kind"`
	Description string         `json:"description"`
	URL         *string        `json:"url"`
	Extra       map[string]any `json:"extra"`
}

// AppStatus is the running app's status. JobID and PID are reachyd's
// (the run's job, whose log is the app's output); empty with other daemons.
type AppStatus struct {
	Info  AppInfo `json:"info"`
	State string  `json:"state"` // starting, running, done, stopping, error
	Error *string `json:"error"`
	JobID string  `json:"-"`
	PID   int     `json:"-"`
}

func (s *AppStatus) UnmarshalJSON(b []byte) error {
	type plain AppStatus
	var w struct {
		plain
		Reachyd *struct {
			JobID string `json:"job_id"`
			PID   int    `json:"pid"`
		} `json:"reachyd"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = AppStatus(w.plain)
	if w.Reachyd != nil {
		s.JobID, s.PID = w.Reachyd.JobID, w.Reachyd.PID
	}
	return nil
}

// Apps lists apps: source "" is everything the daemon offers (catalogue,
// local and installed), otherwise one of the Source* kinds.
func (c *Client) Apps(ctx context.Context, source string) ([]AppInfo, error) {
	path := "/api/apps/list-available"
	if source != "" {
		path += "/" + seg(source)
	}
	var apps []AppInfo
	err := c.get(ctx, path, &apps)
	return apps, err
}

// InstallApp queues the install of an app (a job).
func (c *Client) InstallApp(ctx context.Context, info AppInfo) (Job, error) {
	if info.Extra == nil {
		info.Extra = map[string]any{}
	}
	var j Job
	err := c.postJSON(ctx, "/api/apps/install", info, &j)
	return j, err
}

// SpaceApp is the AppInfo of a Hugging Face Space ("owner/name").
func SpaceApp(spaceID string) AppInfo {
	name := spaceID[strings.LastIndexByte(spaceID, '/')+1:]
	u := "https://huggingface.co/spaces/" + spaceID
	return AppInfo{Name: name, SourceKind: SourceHFSpace, URL: &u, Extra: map[string]any{"id": spaceID}}
}

// LocalApp is the AppInfo of an app folder or archive on the daemon's
// machine (reachyd's source_kind local; the daemon decides which paths
// it accepts).
func LocalApp(name, path string) AppInfo {
	return AppInfo{Name: name, SourceKind: SourceLocal, Extra: map[string]any{"path": path}}
}

// RemoveApp queues the removal of an installed app (a job).
func (c *Client) RemoveApp(ctx context.Context, name string) (Job, error) {
	var j Job
	err := c.postJSON(ctx, "/api/apps/remove/"+seg(name), nil, &j)
	return j, err
}

// UpdateApp queues the update of an installed app (a job).
func (c *Client) UpdateApp(ctx context.Context, name string) (Job, error) {
	var j Job
	err := c.postJSON(ctx, "/api/apps/update/"+seg(name), nil, &j)
	return j, err
}

// StartApp starts an installed app. With evict, a remote session holding
// the robot is ended; without, the start is refused while one does.
func (c *Client) StartApp(ctx context.Context, name string, evict bool) (*AppStatus, error) {
	path := "/api/apps/start-app/" + seg(name)
	if !evict {
		path += "/no-evict"
	}
	var s AppStatus
	if err := c.postJSON(ctx, path, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// StopApp stops the running app.
func (c *Client) StopApp(ctx context.Context) error {
	return c.postJSON(ctx, "/api/apps/stop-current-app", nil, nil)
}

// CurrentApp is the running app's status, nil when none runs.
func (c *Client) CurrentApp(ctx context.Context) (*AppStatus, error) {
	var s *AppStatus
	err := c.get(ctx, "/api/apps/current-app-status", &s)
	return s, err
}

// ErrNoAppLog is returned by AppLogJob when the daemon does not tell the
// running app's job (the reference daemon logs apps to its own log).
var ErrNoAppLog = errors.New("this daemon does not expose the app's output (no job id in current-app-status)")

// ErrNoApp is returned when no app runs.
var ErrNoApp = errors.New("no app is running")

// AppLogJob is the job whose log is the running app's output.
func (c *Client) AppLogJob(ctx context.Context) (string, error) {
	s, err := c.CurrentApp(ctx)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", ErrNoApp
	}
	if s.JobID == "" {
		return "", ErrNoAppLog
	}
	return s.JobID, nil
}

// ---- jobs --------------------------------------------------------------------------

// Job statuses.
const (
	JobPending    = "pending"
	JobInProgress = "in_progress"
	JobDone       = "done"
	JobFailed     = "failed"
)

// JobInfo is GET /api/apps/job-status/{id}.
type JobInfo struct {
	Command string   `json:"command"`
	Status  string   `json:"status"`
	Logs    []string `json:"logs"`
}

// Finished reports whether the job is over.
func (j JobInfo) Finished() bool { return j.Status == JobDone || j.Status == JobFailed }

// JobStatus is GET /api/apps/job-status/{id}.
func (c *Client) JobStatus(ctx context.Context, id string) (*JobInfo, error) {
	var j JobInfo
	if err := c.get(ctx, "/api/apps/job-status/"+seg(id), &j); err != nil {
		return nil, err
	}
	return &j, nil
}

// CancelJob asks reachyd to cancel a running job (an install, or an app's
// run, which stops the app).
func (c *Client) CancelJob(ctx context.Context, id string) error {
	return c.call(ctx, request{method: http.MethodPost, path: "/api/apps/cancel-job/" + seg(id)}, nil)
}

// JobError is a job that ended failed; Logs is its last lines.
type JobError struct {
	Command string
	Logs    []string
}

func (e *JobError) Error() string {
	msg := "job '" + e.Command + "' failed"
	for i := len(e.Logs) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(e.Logs[i]); l != "" {
			return msg + ": " + l
		}
	}
	return msg
}
