package messages

// LockState is the robot app lock's state, with the reference's strings.
type LockState string

const (
	LockFree   LockState = "free"
	LockLocal  LockState = "local_app"
	LockRemote LockState = "remote_session"
)

// LockMode is how a local app takes the lock.
type LockMode int

const (
	// LockTry takes it only if free (start-app/no-evict, the startup app).
	LockTry LockMode = iota
	// LockEvict evicts a remote session (start-app).
	LockEvict
	// LockKeep keeps the remote session, which started this app (JSON-RPC
	// apps.start from the remote client).
	LockKeep
)

// AcquireLocal takes the lock for a local app. Reply: LockStatus, or *Error
// (400 "A local app is already running: '<n>'", or 400 "The robot app slot
// is already in use" for LockTry).
type AcquireLocal struct {
	Name string
	Mode LockMode
}

// ReleaseLocal releases a local app's hold (idempotent). Name "" releases
// whoever holds it. Reply (if asked): LockStatus.
type ReleaseLocal struct{ Name string }

// AcquireRemote takes the lock for a remote session if free. Reply:
// LockStatus, or *Error (409 "robot_busy").
type AcquireRemote struct{ Name string }

// ReleaseRemote releases a remote session's hold (idempotent). Reply (if
// asked): LockStatus.
type ReleaseRemote struct{ Handoff bool }

// GetLockStatus asks for the lock's status. Reply: LockStatus.
type GetLockStatus struct{}

// LockStatus is the reference's RobotAppLockStatus.
type LockStatus struct {
	State  LockState
	Holder string // "" when free
	// Evicted is set in AcquireLocal's reply when it took the lock from a
	// remote session: the app manager then asks the relay to end that
	// session (EvictRemote) and waits for it before the app starts.
	Evicted bool
}

// LockEventKind names what happened to the lock.
type LockEventKind string

const (
	LockLocalAcquired  LockEventKind = "local_acquired"
	LockRemoteAcquired LockEventKind = "remote_acquired"
	LockRemoteEvicted  LockEventKind = "remote_evicted"
	LockBecameFree     LockEventKind = "became_free"
)

// LockEvent is published on the event stream for every transition: the
// daemon schedules or cancels its idle reset, the relay ends an evicted
// session. BecameFree is published once per transition to free, never on
// an eviction (which goes from remote to local directly).
type LockEvent struct {
	Kind    LockEventKind
	Holder  string
	Handoff bool
}
