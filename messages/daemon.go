package messages

import "time"

// DaemonState is the reference's DaemonState enum.
type DaemonState string

const (
	StateNotInitialized DaemonState = "not_initialized"
	StateStarting       DaemonState = "starting"
	StateRunning        DaemonState = "running"
	StateStopping       DaemonState = "stopping"
	StateStopped        DaemonState = "stopped"
	StateError          DaemonState = "error"
)

// StartDaemon starts the robot backend as a job ("daemon-start"). Reply:
// JobStarted or ErrDaemonBusy.
type StartDaemon struct{ WakeUp bool }

// StopDaemon stops the robot backend as a job ("daemon-stop"). Reply:
// JobStarted or ErrDaemonBusy.
type StopDaemon struct{ GotoSleep bool }

// RestartDaemon stops then starts the backend as a job ("daemon-restart"),
// without sleep or wake-up. Reply: JobStarted or ErrDaemonBusy.
type RestartDaemon struct{}

// JobStarted is the reply naming the job that carries out a request.
type JobStarted struct{ JobID string }

// GetDaemonStatus asks the daemon for its status. Reply: *DaemonStatus.
type GetDaemonStatus struct {
	// WithRuntime adds the process's runtime figures (GET
	// /api/daemon/status; not the pushed frames, which would then change
	// every second).
	WithRuntime bool
}

// RuntimeStats are the daemon process's own figures, for operators and
// soak runs.
type RuntimeStats struct {
	Goroutines int
	// ControlHz is the control loop's measured rate over the last second
	// (0 without a backend).
	ControlHz float64
	// HeapLive is the Go heap's live bytes as of the last garbage
	// collection: what a leak would grow, unlike the resident size, which
	// follows the runtime's own caching.
	HeapLive uint64
}

// FaceTarget is the reference's face target (no tracker in reachyd yet: it
// is always "not detected").
type FaceTarget struct {
	Detected bool
	X, Y     *float64
	Roll     *float64
	TS       *float64
}

// DaemonStatus is everything the reference's DaemonStatus carries, plus
// reachyd's supervision events.
type DaemonStatus struct {
	RobotName         string
	State             DaemonState
	WirelessVersion   bool
	DesktopAppDaemon  bool
	SimulationEnabled *bool
	MockupSimEnabled  *bool
	NoMedia           bool
	MediaReleased     bool
	CameraSpecsName   string
	// Backend is nil when no backend runs.
	Backend     *BackendStatus
	BackendKind string // "robot", "mockup", "sim" or "mujoco": picks the wire shape
	Error       string
	WlanIP      string
	Version     string
	HardwareID  string
	FaceTarget  FaceTarget

	// reachyd additions (extra JSON fields, ignored by the reference's
	// clients).
	Backoff     []SupervisionEvent
	StartedAt   time.Time
	ControlHz   float64
	BackendName string
	Runtime     *RuntimeStats // only when asked WithRuntime
	// Media is the media actor's account (nil without one).
	Media *MediaDetail
	// Sim is the MuJoCo simulation's status (nil on other backends): the
	// seed's MujocoBackendStatus fields, added to backend_status.
	Sim *SimStatus
}

// ResetSimulation puts a physics simulation (--sim in a MuJoCo build) back
// in its initial state: POST /api/daemon/simulation/reset. Reply:
// DaemonOK-like struct{} or *Error (404 without a physics simulation).
type ResetSimulation struct{}

// SimStatus is a physics simulation's status (sim/mujoco).
type SimStatus struct {
	ModelLoaded    bool
	Model          string
	SimulationTime float64 // s since the last reset
	RealTimeFactor float64 // simulated over wall time, last second
}

// RobotReadyTimeout and friends are sent by the daemon to itself.

// SetRobotName persists and applies a new robot name. Reply: RobotName or
// *Error (422 "Invalid robot name").
type SetRobotName struct{ Name string }

// GetRobotName asks for the robot name. Reply: RobotName.
type GetRobotName struct{}

// RobotName is the reply to robot-name requests.
type RobotName struct{ Name string }

// RobotNameChanged is published on the event stream when the robot is
// renamed (POST /api/daemon/robot-name, the SDK's set_robot_name): the
// mDNS responder re-advertises under the new name, as the reference's
// rename hook does.
type RobotNameChanged struct{ Name string }

// SetMediaReleased releases (true) or acquires (false) the media. Reply:
// MediaStatus.
type SetMediaReleased struct{ Released bool }

// GetMediaStatus asks for the media status. Reply: MediaStatus.
type GetMediaStatus struct{}

// MediaStatus is the reference's /api/media/status.
type MediaStatus struct {
	Available bool
	Released  bool
	NoMedia   bool
	// Detail is reachyd's extension (nil when there is no media actor).
	Detail *MediaDetail
}

// BackendStopped is sent by the robot supervisor to the daemon when the
// robot subtree ended (after a stop, or because it failed).
type BackendStopped struct{ Err string }

// SetFirstWakeUp records whether the owner completed the first wake-up
// (persisted, the reference's first_wake_up_completed). Reply: FirstWakeUp.
type SetFirstWakeUp struct{ Completed bool }

// GetFirstWakeUp asks for the flag. Reply: FirstWakeUp.
type GetFirstWakeUp struct{}

// FirstWakeUp is the reply to the first-wake-up messages.
type FirstWakeUp struct{ Completed bool }

// DeleteHFToken deletes the stored Hugging Face token. Reply: struct{} or
// *Error.
type DeleteHFToken struct{}

// GetServices lists reachyd's services (its actors) for pymirokai's
// get_services. Reply: Services.
type GetServices struct{}

// Services answers GetServices.
type Services struct{ Names []string }

// GetService describes one service: its state, restarts and recent log
// lines. Reply: ServiceInfo or *Error (404).
type GetService struct{ System, Name string }

// ServiceInfo answers GetService.
type ServiceInfo struct {
	Name     string
	State    string
	Restarts int
	Logs     []string
}

// GetCameraStatus asks the camera actor how its source is doing. Reply:
// CameraStatus.
type GetCameraStatus struct{}

// CameraStatus answers GetCameraStatus.
type CameraStatus struct {
	Source      string `json:"source"`
	Running     bool   `json:"running"`
	Frames      uint64 `json:"frames"`
	Subscribers int    `json:"subscribers"`
	LastError   string `json:"last_error"`
	Failures    int    `json:"failures"`
}
