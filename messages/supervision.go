package messages

import "time"

// Directive is what a supervisor decided for a failed child.
type Directive string

const (
	// DirectiveRestart: the child is restarted after Delay.
	DirectiveRestart Directive = "restart"
	// DirectiveStop: the failure budget is spent; the child stays stopped.
	DirectiveStop Directive = "stop"
	// DirectiveEscalate: the budget is spent and the failure goes to the
	// supervisor's own parent.
	DirectiveEscalate Directive = "escalate"
	// DirectiveRespawn: a top-level actor spent its failure budget; it is
	// stopped (its mailbox with it) and spawned afresh after Delay, on the
	// same cell.
	DirectiveRespawn Directive = "respawn"
	// DirectiveUnrecoverable: the root's own budget of respawns is spent
	// too: the daemon reports the error and exits.
	DirectiveUnrecoverable Directive = "unrecoverable"
)

// SupervisionEvent is published on the actor system's event stream for every
// failure a supervisor handles. The daemon actor keeps the recent ones and
// shows them in its status.
type SupervisionEvent struct {
	At        time.Time     `json:"at"`
	Child     string        `json:"child"`
	Reason    string        `json:"reason"`
	Directive Directive     `json:"directive"`
	Delay     time.Duration `json:"-"`
	DelayMS   float64       `json:"delay_ms"`
	// Failures is the decayed failure count after this failure.
	Failures float64 `json:"failures"`
	Budget   float64 `json:"budget"`
}
