package authcore

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every error this package returns wraps one of them, so
// callers map them with errors.Is; the gateway answers 401 for the key,
// token, channel and session errors, 429 for ErrRateLimited (with Retry-After from
// RateLimitedError) and 500 for the file errors.
var (
	// ErrBadKey: the API key is malformed, unknown or has the wrong secret.
	// The three are deliberately indistinguishable to the caller.
	ErrBadKey = errors.New("authcore: invalid API key")
	// ErrRevokedKey: the key (or the key behind a session) was revoked.
	ErrRevokedKey = errors.New("authcore: API key revoked")
	// ErrUnknownKey: no key has this id (administrative operations).
	ErrUnknownKey = errors.New("authcore: unknown key id")
	// ErrAmbiguousKeyID: an id prefix matches more than one key.
	ErrAmbiguousKeyID = errors.New("authcore: ambiguous key id prefix")
	// ErrAlreadyRevoked: Revoke of a key that is already revoked.
	ErrAlreadyRevoked = errors.New("authcore: key already revoked")
	// ErrBadName: a key name that is empty, too long or not printable.
	ErrBadName = errors.New("authcore: invalid key name")
	// ErrBadLevel: an access level other than ENCHANTER, ADMIN or USER.
	ErrBadLevel = errors.New("authcore: invalid access level")

	// ErrCorruptFile: api_keys.json or jwt_signing.key cannot be decoded.
	// The store refuses to start (or to reload) rather than run with no
	// keys, which would silently lock everyone out or hide revocations.
	ErrCorruptFile = errors.New("authcore: corrupt auth file")
	// ErrInsecureFile: the signing key file is readable by group or others.
	ErrInsecureFile = errors.New("authcore: insecure file permissions")

	ErrTokenMalformed = errors.New("authcore: malformed token")
	ErrTokenExpired   = errors.New("authcore: token expired")
	// ErrTokenSignature also covers a wrong algorithm and a wrong kid: in
	// every case the token was not signed with our current key.
	ErrTokenSignature = errors.New("authcore: invalid token signature")
	ErrTokenTooLarge  = errors.New("authcore: token too large")
	// ErrTokenClaims: authentic signature, but claims we would never issue
	// (issuer, audience, formats) or not valid yet.
	ErrTokenClaims = errors.New("authcore: invalid token claims")

	// ErrTokenChannel: the token of a trusted local session (minted over
	// the unix socket without a key) presented from the network.
	ErrTokenChannel = errors.New("authcore: a local token is valid only on this host")

	// ErrSessionEnded: the token is authentic but its session is over
	// (idle expiry, key revoked or deleted, explicit end).
	ErrSessionEnded = errors.New("authcore: session ended")

	// ErrRateLimited: the credential was wrong, and this credential or
	// this address has failed too often. errors.As to *RateLimitedError
	// for the wait.
	ErrRateLimited = errors.New("authcore: too many failed authentication attempts")

	// ErrUsage: the keys command line was wrong; usage has been printed.
	ErrUsage = errors.New("authcore: usage error")
)

// RateLimitedError is returned (wrapping ErrRateLimited) for a wrong
// credential whose failure budget, or its address's, is spent. RetryAfter
// is when one more failure will be answered as such; the gateway sends it
// as Retry-After, rounded up to seconds.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%v; retry after %v", ErrRateLimited, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }
