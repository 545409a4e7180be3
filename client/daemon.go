package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
)

// DaemonStatus is GET /api/daemon/status, with the fields every daemon
// sends. Raw keeps the whole answer (reachyd adds a "reachyd" object with
// its motors, supervision and runtime).
type DaemonStatus struct {
	RobotName         string         `json:"robot_name"`
	State             string         `json:"state"` // not_initialized, starting, running, stopping, stopped, error
	WirelessVersion   bool           `json:"wireless_version"`
	SimulationEnabled *bool          `json:"simulation_enabled"`
	MockupSimEnabled  *bool          `json:"mockup_sim_enabled"`
	NoMedia           bool           `json:"no_media"`
	BackendStatus     *BackendStatus `json:"backend_status"`
	Error             *string        `json:"error"`
	WlanIP            *string        `json:"wlan_ip"`
	Version           string         `json:"version"`
	HardwareID        *string        `json:"hardware_id"`

	Raw json.RawMessage `json:"-"`
}

// BackendStatus is DaemonStatus.backend_status.
type BackendStatus struct {
	MotorControlMode string  `json:"motor_control_mode"`
	Error            *string `json:"error"`
}

// Job is a background job's id ({"job_id": ...}).
type Job struct {
	ID string `json:"job_id"`
}

// Status is GET /api/daemon/status.
func (c *Client) Status(ctx context.Context) (*DaemonStatus, error) {
	var raw json.RawMessage
	if err := c.get(ctx, "/api/daemon/status", &raw); err != nil {
		return nil, err
	}
	st := &DaemonStatus{Raw: raw}
	if err := decode("GET /api/daemon/status", raw, st); err != nil {
		return nil, err
	}
	return st, nil
}

// StartDaemon starts the robot backend (a job: follow it with FollowJob or
// WaitJob); wakeUp plays the wake-up sequence once it runs.
func (c *Client) StartDaemon(ctx context.Context, wakeUp bool) (Job, error) {
	var j Job
	err := c.postJSON(ctx, "/api/daemon/start?wake_up="+strconv.FormatBool(wakeUp), nil, &j)
	return j, err
}

// StopDaemon stops the robot backend (a job); gotoSleep plays the sleep
// sequence first.
func (c *Client) StopDaemon(ctx context.Context, gotoSleep bool) (Job, error) {
	var j Job
	err := c.postJSON(ctx, "/api/daemon/stop?goto_sleep="+strconv.FormatBool(gotoSleep), nil, &j)
	return j, err
}

// RestartDaemon restarts the robot backend (a job).
func (c *Client) RestartDaemon(ctx context.Context) (Job, error) {
	var j Job
	err := c.postJSON(ctx, "/api/daemon/restart", nil, &j)
	return j, err
}

// AppLock is GET /api/daemon/robot-app-lock-status.
type AppLock struct {
	State  string  `json:"state"` // free, local_app, remote_session
	Holder *string `json:"holder_name"`
}

// AppLock tells who holds the robot: nobody, a local app or a remote
// session.
func (c *Client) AppLock(ctx context.Context) (AppLock, error) {
	var l AppLock
	err := c.get(ctx, "/api/daemon/robot-app-lock-status", &l)
	return l, err
}

// ---- motors -------------------------------------------------------------------------

// Motor control modes the API accepts.
const (
	ModeEnabled             = "enabled"
	ModeDisabled            = "disabled"
	ModeGravityCompensation = "gravity_compensation"
)

// MotorStatus is GET /api/motors/status. Motors is reachyd's per-motor
// detail (absent from the reference daemon).
type MotorStatus struct {
	Mode   string       `json:"mode"`
	Motors []MotorState `json:"motors,omitempty"`
}

// MotorState is one motor of reachyd's MotorStatus.
type MotorState struct {
	Name            string   `json:"name"`
	ID              int      `json:"id"`
	Torque          bool     `json:"torque"`
	Answering       bool     `json:"answering"`
	PresentPosition *float64 `json:"present_position"`
	Temperature     *float64 `json:"temperature"`
	Voltage         *float64 `json:"voltage"`
	HardwareError   []string `json:"hardware_error"`
}

// Motors is GET /api/motors/status.
func (c *Client) Motors(ctx context.Context) (*MotorStatus, error) {
	var m MotorStatus
	if err := c.get(ctx, "/api/motors/status", &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// SetMotorMode is POST /api/motors/set_mode/{mode}: ModeEnabled,
// ModeDisabled or ModeGravityCompensation. It returns the daemon's status
// text.
func (c *Client) SetMotorMode(ctx context.Context, mode string) (string, error) {
	var r struct {
		Status string `json:"status"`
	}
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/motors/set_mode/" + seg(mode)}, &r)
	return r.Status, err
}
