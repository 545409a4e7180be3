package messages

// The self-update's messages (the reference's wireless-only /update
// router, spec 1.4.10, and the data channel's start_update, spec 2.4),
// answered by the updater actor.

// UpdateJobCommand is the job name of every update, as the reference's.
const UpdateJobCommand = "update_reachy_mini"

// GetUpdateAvailable is /update/available. Reply: UpdateAvailability, or
// *Error: 400 "Update is in progress" while an update runs, 503 when the
// release index cannot be used (an unreachable source is not an error:
// available_version "unknown", as the reference reports a connection
// error to PyPI).
type GetUpdateAvailable struct{ PreRelease bool }

// UpdateAvailability answers GetUpdateAvailable.
type UpdateAvailability struct {
	IsAvailable bool
	Current     string
	// Available is the newest version for this machine, or "unknown".
	Available string
}

// StartUpdate is /update/start (Ref empty: the newest release) and
// /update/start-from-ref (FromRef: the release Ref names, any version).
// Reply: JobStarted (job update_reachy_mini), or *Error: 400 "Update
// already in progress", "No update available", "Git ref cannot be empty";
// 503 "Update availability check failed: ..." when the index cannot be
// used. A successful job ends with the daemon restarting on the new binary.
type StartUpdate struct {
	PreRelease bool
	FromRef    bool
	Ref        string
}

// ValidateUpdateRef is /update/validate-ref. Reply: RefValidation, or
// *Error: 400 "Git ref cannot be empty", 503 when the index cannot be used.
type ValidateUpdateRef struct{ Ref string }

// RefValidation answers ValidateUpdateRef; Error says why a ref is not
// valid.
type RefValidation struct {
	Valid bool
	Ref   string
	Error string
}

// GetInstallSource is /update/install-source. Reply: InstallSource.
type GetInstallSource struct{}

// InstallSource says which version runs and where it came from: "index"
// (an update installed the newest release), "git" (an update installed a
// ref: GitRef and Commit), "local" (anything else).
type InstallSource struct {
	Version string
	Source  string
	GitRef  string
	Commit  string
}

// The update errors with the reference's texts.
var (
	ErrUpdateInProgress        = &Error{Kind: KindBadRequest, Detail: "Update is in progress", Reason: "update_in_progress"}
	ErrUpdateAlreadyInProgress = &Error{Kind: KindBadRequest, Detail: "Update already in progress", Reason: "update_in_progress"}
	ErrNoUpdateAvailable       = &Error{Kind: KindBadRequest, Detail: "No update available", Reason: "no_update"}
	ErrEmptyGitRef             = &Error{Kind: KindBadRequest, Detail: "Git ref cannot be empty", Reason: "empty_ref"}
)
