// Package auth is the auth actor: it owns the API keys, the JWT signer and
// the sessions (package authcore) and answers the gateway's key exchanges,
// token checks and token rotations.
package auth

import (
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	authcore "reachyd/actors/auth/core"
	"reachyd/actors/kit"
	"reachyd/messages"
)

// Options configure the auth actor.
type Options struct {
	// Dir holds api_keys.json and jwt_signing.key (<data-dir>/auth).
	Dir    string
	Config authcore.Config
	Cell   *Cell
	Log    *slog.Logger
	Now    func() time.Time
}

// Cell keeps the sessions across restarts of the actor: a restart must not
// log every client out.
type Cell struct {
	core *authcore.Core
	keys *authcore.KeyStore
}

// Open creates the key store and the signer (or fails: reachyd does not
// start with an unreadable or insecure key file).
func Open(dir string, cfg authcore.Config) (*Cell, error) {
	ks, err := authcore.OpenKeyStore(dir)
	if err != nil {
		return nil, err
	}
	sg, err := authcore.OpenSigner(dir, nil)
	if err != nil {
		return nil, err
	}
	core, err := authcore.NewCore(ks, sg, cfg)
	if err != nil {
		return nil, err
	}
	return &Cell{core: core, keys: ks}, nil
}

// Actor is the auth actor.
type Actor struct {
	opt       Options
	c         *Cell
	log       *slog.Logger
	timer     *time.Timer
	lastSweep time.Time
	reloadErr string // the last error reading the keys file, logged once
}

// housekeeping names the incarnation that armed it: one armed before a
// restart and delivered after it is dropped (the new incarnation arms its
// own), or every restart would add a timer chain.
type housekeeping struct{ from *Actor }

const (
	// reloadEvery: the keys file is checked (a stat) this often, and
	// before every key exchange and token check. A key revoked with
	// `reachyd keys revoke` is refused from the next request on, and the
	// topic WebSockets of its sessions are closed within this time (the
	// documentation promises 2 s).
	reloadEvery = 500 * time.Millisecond
	// sweepEvery: idle sessions are ended this often.
	sweepEvery = time.Minute
)

// Props returns the auth actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, c: opt.Cell, log: opt.Log.With("actor", "auth")}
	}, kit.CrashOption())
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	now := a.opt.Now()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.lastSweep = now
		a.schedule(ctx)
	case *actor.Stopping, *actor.Restarting:
		if a.timer != nil {
			a.timer.Stop()
		}
	case *housekeeping:
		if m.from != a {
			return
		}
		a.housekeeping(now)
		a.schedule(ctx)
	case *messages.AuthKey:
		a.refreshKeys(now)
		g, err := a.c.core.Authenticate(m.Key, m.Remote, m.TrustedLocal, now)
		if err != nil {
			kit.Reply(ctx, authError(err, "Invalid API key"))
			return
		}
		if g.UsageErr != nil {
			a.log.Warn("could not record the key's last use", "err", g.UsageErr)
		}
		a.log.Info("session opened", "client_id", g.ClientID, "level", g.Level.String(), "local", m.TrustedLocal)
		kit.Reply(ctx, messages.AuthGrant{Token: g.Token, ClientID: g.ClientID, Level: g.Level})
	case *messages.VerifyToken:
		a.refreshKeys(now)
		p, err := a.c.core.Verify(m.Token, m.Remote, m.Channel, now)
		if err != nil {
			kit.Reply(ctx, authError(err, "Invalid or expired token"))
			return
		}
		kit.Reply(ctx, messages.Principal(p))
	case *messages.RotateToken:
		a.refreshKeys(now)
		t, err := a.c.core.Rotate(authcore.Principal(m.Principal), now)
		if err != nil {
			kit.Reply(ctx, authError(err, "Invalid or expired token"))
			return
		}
		kit.Reply(ctx, messages.AuthToken{Token: t})
	}
	a.publishEnded(ctx)
}

// publishEnded tells the rest of the daemon which sessions just ended, so
// that their topic WebSockets are closed at once rather than at their next
// token check.
func (a *Actor) publishEnded(ctx actor.Context) {
	if ids := a.c.core.TakeEnded(); len(ids) > 0 {
		ctx.ActorSystem().EventStream.Publish(messages.SessionsEnded{SessionIDs: ids})
	}
}

// authError maps the core's errors to the gateway's: 429 with Retry-After
// for the limiter, 401 for any key, token or session failure (with a
// generic text: the caller learns nothing about which check failed), 500
// for the rest.
func authError(err error, text string) error {
	var rl *authcore.RateLimitedError
	if errors.As(err, &rl) {
		return &messages.Error{Kind: messages.KindTooManyRequests, Detail: "Too many failed authentication attempts; try again later",
			Reason: "rate_limited", RetryAfter: rl.RetryAfter}
	}
	for _, e := range []error{authcore.ErrBadKey, authcore.ErrRevokedKey, authcore.ErrUnknownKey, authcore.ErrTokenMalformed,
		authcore.ErrTokenExpired, authcore.ErrTokenSignature, authcore.ErrTokenTooLarge, authcore.ErrTokenClaims, authcore.ErrTokenChannel,
		authcore.ErrSessionEnded} {
		if errors.Is(err, e) {
			return &messages.Error{Kind: messages.KindUnauthorized, Detail: text, Reason: "unauthorized"}
		}
	}
	return &messages.Error{Kind: messages.KindInternal, Detail: "authentication failed: " + err.Error()}
}

func (a *Actor) schedule(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	h := &housekeeping{from: a}
	a.timer = time.AfterFunc(reloadEvery, func() { root.Send(self, h) })
}

// housekeeping picks up keys changed by the CLI and ends idle sessions.
func (a *Actor) housekeeping(now time.Time) {
	a.refreshKeys(now)
	if now.Sub(a.lastSweep) >= sweepEvery {
		a.sweep(now)
	}
}

// refreshKeys re-reads the keys file if it changed (one stat otherwise)
// and then ends the sessions of revoked or deleted keys. On a read error
// the previous keys stay in force; the error is logged once.
func (a *Actor) refreshKeys(now time.Time) {
	changed, err := a.c.keys.ReloadIfChanged()
	if err != nil {
		if msg := err.Error(); msg != a.reloadErr {
			a.reloadErr = msg
			a.log.Error("cannot reload the API keys; the previous keys stay in force", "err", err)
		}
		return
	}
	if a.reloadErr != "" {
		a.reloadErr = ""
		a.log.Info("API keys file readable again")
	}
	if changed {
		a.log.Info("API keys reloaded")
		a.sweep(now)
	}
}

func (a *Actor) sweep(now time.Time) {
	a.lastSweep = now
	if n := a.c.core.Sweep(now); n > 0 {
		a.log.Info("sessions ended", "count", n)
	}
}
