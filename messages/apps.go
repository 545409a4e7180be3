package messages

import "time"

// AppInfo is the reference's AppInfo.
type AppInfo struct {
	Name        string
	SourceKind  string // hf_space, dashboard_selection, local, installed
	Description string
	URL         *string
	Extra       map[string]any
}

// AppState is the reference's AppState.
type AppState string

const (
	AppStarting AppState = "starting"
	AppRunning  AppState = "running"
	AppDone     AppState = "done"
	AppStopping AppState = "stopping"
	AppError    AppState = "error"
)

// AppStatus is the reference's AppStatus, plus reachyd's job id (where the
// app's output goes) and process id.
type AppStatus struct {
	Info  AppInfo
	State AppState
	Error string // "" = null
	JobID string
	Pid   int
}

// ListApps lists available apps of a source ("" = every source, deduplicated
// as the reference does). Reply: AppList or *Error.
type ListApps struct{ Source string }

// AppList is the reply to ListApps.
type AppList struct{ Apps []AppInfo }

// InstallApp installs an app as a job ("install"). Reply: JobStarted or
// *Error (403 for a local path the caller may not read, 409 for the app
// that runs or a name that does not match).
type InstallApp struct {
	Info AppInfo
	// LocalTrusted: the request came over the unix socket from reachyd's
	// user or root, who may install from any local path reachyd can read.
	// Others only from the folders given with --apps-local-dir.
	LocalTrusted bool
}

// InstallPrivateSpace installs a private Hugging Face space with the stored
// token. Reply: JobStarted or *Error (401 without a token).
type InstallPrivateSpace struct{ SpaceID string }

// RemoveApp removes an installed app as a job ("remove"). Reply: JobStarted.
type RemoveApp struct{ Name string }

// UpdateApp reinstalls an app from its space as a job ("update"). Reply:
// JobStarted or *Error.
type UpdateApp struct{ Name string }

// StartApp starts an installed app. Reply: AppStatus or *Error (400 with
// the reference's texts).
type StartApp struct {
	Name string
	Mode LockMode
}

// StopApp stops the running app (SIGINT, grace, SIGKILL of its process
// group), releases the lock and returns the robot to rest. Reply: struct{}
// or *Error (400 "No app is currently running").
type StopApp struct{}

// RestartApp stops and starts the current app again. Reply: AppStatus.
type RestartApp struct{}

// GetAppStatus asks for the current app. Reply: CurrentApp.
type GetAppStatus struct{}

// CurrentApp is the reply to GetAppStatus (Status nil: no app).
type CurrentApp struct{ Status *AppStatus }

// GetStartupApp asks for the startup app. Reply: StartupApp.
type GetStartupApp struct{}

// SetStartupApp sets (or clears, with "") the app started after the first
// wake-up. Reply: StartupApp or *Error (400 not installed).
type SetStartupApp struct{ Name string }

// StartupApp is the reply to the startup-app messages ("" = null).
type StartupApp struct{ Name string }

// CheckAppUpdates compares installed spaces with their latest commits
// (cached 5 minutes unless Force). Reply: AppUpdates.
type CheckAppUpdates struct{ Force bool }

// AppUpdate is one app with an update.
type AppUpdate struct {
	AppName, SpaceID, InstalledSHA, LatestSHA string
	UpdateAvailable                           bool
	LastModified                              string
}

// AppUpdates is the reference's AppUpdatesResponse.
type AppUpdates struct {
	Apps    []AppUpdate
	Checked int
	Skipped int
}

// WakeUpDone is told to the app manager when a wake-up sequence completed
// (the startup app starts then, as in the reference).
type WakeUpDone struct{}

// IsIdle asks moves whether the robot rests: motors disabled and the head
// at the sleep pose. Reply: Idle.
type IsIdle struct{}

// Idle is the reply to IsIdle.
type Idle struct{ Idle bool }

// GetSetting reads a key of the daemon's settings file. Reply: Setting.
type GetSetting struct{ Key string }

// PutSetting writes a key (Raw nil deletes it). Reply: Setting or *Error.
type PutSetting struct {
	Key string
	Raw []byte
}

// Setting is a settings value as raw JSON (nil when absent).
type Setting struct{ Raw []byte }

// AppExitInfo describes how an app's process ended.
type AppExitInfo struct {
	Code   int
	Signal string
	Text   string // the reference's "Process exited with code N"
	Tail   []string
	At     time.Time
}

// AppProcessEvent is published on the actor system's event stream when an
// app's process starts, fails to start, and ends: the metrics count app
// runs and exits from it.
type AppProcessEvent struct {
	// Exit is how the process ended; nil when it started (or failed to).
	Exit *AppExitInfo
	// StartErr says why the process could not be started ("" otherwise).
	StartErr string
}
