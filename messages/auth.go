package messages

import (
	"fmt"
	"strconv"
	"strings"
)

// AccessLevel is pymirokai's AccessLevel: lower is more privileged. A
// caller may run a skill whose level is at or above its own.
type AccessLevel int

const (
	LevelEnchanter AccessLevel = 10
	LevelAdmin     AccessLevel = 20
	LevelUser      AccessLevel = 30
)

// String is the enum member's name, as the wire carries it ("ADMIN").
func (l AccessLevel) String() string {
	switch l {
	case LevelEnchanter:
		return "ENCHANTER"
	case LevelAdmin:
		return "ADMIN"
	case LevelUser:
		return "USER"
	}
	return strconv.Itoa(int(l))
}

// Allows reports whether a caller at level l may use something that
// requires level need.
func (l AccessLevel) Allows(need AccessLevel) bool { return l <= need }

// ParseAccessLevel accepts the forms skills and clients use: "ADMIN",
// "admin", "AccessLevel.ADMIN", "20".
func ParseAccessLevel(s string) (AccessLevel, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "AccessLevel.")
	switch strings.ToUpper(t) {
	case "ENCHANTER":
		return LevelEnchanter, nil
	case "ADMIN":
		return LevelAdmin, nil
	case "USER":
		return LevelUser, nil
	}
	if n, err := strconv.Atoi(t); err == nil {
		switch l := AccessLevel(n); l {
		case LevelEnchanter, LevelAdmin, LevelUser:
			return l, nil
		}
	}
	return 0, fmt.Errorf("unknown access level %q (want ENCHANTER, ADMIN or USER)", s)
}

// AuthKey exchanges an API key for a token (GET /api/v1/auth/). Remote is
// the caller's address (the failed-attempt limiter's key); TrustedLocal is
// set for a unix-socket peer with the daemon's uid or root, which needs no
// key. Reply: AuthGrant or *Error (401, 429).
type AuthKey struct {
	Key          string
	Remote       string
	TrustedLocal bool
}

// AuthGrant answers AuthKey: the wire body is {"token", "client_id",
// "access_level"}.
type AuthGrant struct {
	Token    string
	ClientID string
	Level    AccessLevel
}

// Channel says where a token was presented. Tokens of trusted local
// sessions (minted over the unix socket without a key) are accepted only on
// ChannelUnix and ChannelHost.
type Channel uint8

const (
	// ChannelNetwork: the API's TCP listener, or the topic listener from
	// another host.
	ChannelNetwork Channel = iota
	// ChannelUnix: the unix socket.
	ChannelUnix
	// ChannelHost: the topic listener, from an address of this very host
	// (pymirokai's SkillManager takes its token over the unix socket and
	// opens the topic WebSocket to the host's own LAN address).
	ChannelHost
)

// VerifyToken checks a bearer token. Reply: Principal or *Error (401, 429).
type VerifyToken struct {
	Token   string
	Remote  string
	Channel Channel
}

// SessionsEnded is published on the event stream by the auth actor when
// sessions end (key revoked or deleted, idle, ended explicitly), so that
// what they hold open (topic WebSockets) is closed at once.
type SessionsEnded struct {
	SessionIDs []string
}

// Principal is an authenticated caller: one session of an API key.
type Principal struct {
	ClientID  string
	SessionID string
	KeyID     string
	Level     AccessLevel
	Local     bool // a trusted unix-socket caller
}

// RotateToken issues a fresh token for the principal's session (the
// rolling Authorization header of command responses). Reply: AuthToken or
// *Error.
type RotateToken struct{ Principal Principal }

// AuthToken answers RotateToken.
type AuthToken struct{ Token string }
