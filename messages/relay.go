package messages

import "encoding/json"

// Messages of the central signalling relay (actors/relay): remote sessions
// through the central server, handed to the media actor's WebRTC producer.
// The gateway's /api/hf-auth/* routes, the app manager (eviction) and media
// acquire/release talk to it with these.

// RelayState is the relay's state, with the reference's strings.
type RelayState string

const (
	RelayStopped         RelayState = "stopped"
	RelayWaitingForToken RelayState = "waiting_for_token"
	RelayConnecting      RelayState = "connecting"
	RelayConnected       RelayState = "connected"
	RelayReconnecting    RelayState = "reconnecting"
	RelayError           RelayState = "error"
)

// GetRelayStatus asks for the relay's state. Reply: RelayStatus.
type GetRelayStatus struct{}

// RelayStatus is the reference's relay status: {"state","message","is_connected"}.
// Message "" is sent as null.
type RelayStatus struct {
	State       RelayState
	Message     string
	IsConnected bool
	// PeerID is our producer id at the central server ("" when not
	// connected); Sessions counts the remote sessions (for status pages).
	PeerID   string
	Sessions int
}

// StartRelay starts the relay if it is stopped (media acquired, a sign-in
// succeeded). Idempotent. Reply (if asked): RelayStatus.
type StartRelay struct{}

// StopRelay ends every remote session, releases the lock's remote hold and
// stops the relay (media released, daemon stopping). Idempotent. Reply (if
// asked): RelayStatus.
type StopRelay struct{}

// RefreshRelay forces a reconnection with the current token (POST
// /api/hf-auth/refresh-relay). Reply: RefreshRelayResult.
type RefreshRelay struct{}

// RefreshRelayResult is the reference's refresh-relay answer:
// {"status":"requested"|"skipped","token_available",["reason"]}.
type RefreshRelayResult struct {
	Status         string // "requested" or "skipped"
	TokenAvailable bool
	Reason         string // "relay_not_running" or "relay_unavailable" when skipped
}

// HFTokenChanged tells the relay (and the TURN credentials refresher) that
// the Hugging Face token was saved or deleted. The relay reconnects only if
// the token differs from the one it uses. Tell only.
type HFTokenChanged struct{}

// EvictRemote ends every remote session with Reason (local_app_started)
// and replies RemoteEvicted once their teardown is done (the producer
// closed their PeerConnections and central was told), so that the app
// manager starts the app only after the remote client is gone.
type EvictRemote struct{ Reason string }

// RemoteEvicted is EvictRemote's reply.
type RemoteEvicted struct{ Sessions int }

// GetCentralRobotStatus asks central for its robot list with our token
// (GET <central>/api/robot-status, 5 s). Reply: CentralRobotStatus.
type GetCentralRobotStatus struct{}

// CentralRobotStatus is the reference's central-robot-status answer:
// {"available":true,"robots":[...]} or {"available":false,"robots":[],
// "reason":"not_authenticated"|"token_invalid"|"http_<code>"|"unreachable"}.
type CentralRobotStatus struct {
	Available bool
	Robots    json.RawMessage // the JSON array central sent ([] when unavailable)
	Reason    string
}
