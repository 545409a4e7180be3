package main

// TURN credentials for the WebRTC producer (media/turn): fetched with the
// Hugging Face token from REACHY_TURN_URL and kept in the media cell, which
// gives them to the running producer and to each one media starts later.

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"reachyd/actors/daemon"
	"reachyd/actors/kit"
	"reachyd/actors/system"
	"reachyd/media/turn"
	"reachyd/messages"
)

// turnConfig reads REACHY_TURN_URL and REACHY_TURN_TTL (seconds, 60 to
// 86400; the default otherwise, with a warning).
func turnConfig(log *slog.Logger) turn.Client {
	c := turn.Client{URL: strings.TrimSpace(os.Getenv("REACHY_TURN_URL"))}
	if v := strings.TrimSpace(os.Getenv("REACHY_TURN_TTL")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 60 || n > 86400 {
			log.Warn("REACHY_TURN_TTL must be a number of seconds from 60 to 86400; using the default", "value", v, "default", turn.DefaultTTL)
		} else {
			c.TTL = time.Duration(n) * time.Second
		}
	}
	return c
}

// turnEnabled reads turn_enabled in daemon_config.json (true when absent,
// as in the reference).
func turnEnabled(ctx context.Context, sys *system.System) bool {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := kit.Ask[messages.Setting](actx, sys.Kit, sys.Daemon, &messages.GetSetting{Key: "turn_enabled"})
	if err != nil || s.Raw == nil {
		return true
	}
	var on bool
	if json.Unmarshal(s.Raw, &on) != nil {
		return true
	}
	return on
}

// startTURN starts the TURN credentials refresher when media runs and TURN
// is on (no --no-turn, no turn_enabled=false; with --webrtc-loopback only
// from a loopback credentials URL, so that nothing leaves the machine). It
// returns nil when TURN is off. The refresher runs until ctx ends; it looks
// at the token again on Kick (which the Hugging Face sign-in must call:
// messages.HFTokenChanged), on messages.HFTokenChanged published on the
// actor system's event stream, and every minute.
func startTURN(ctx context.Context, o *Options, sys *system.System, log *slog.Logger) *turn.Refresher {
	cell := sys.MediaCell
	if cell == nil || cell.Reason() != "" {
		return nil
	}
	log = log.With("component", "turn")
	client := turnConfig(log)
	switch {
	case o.NoTURN:
		log.Info("TURN off (--no-turn)")
		return nil
	case !turnEnabled(ctx, sys):
		log.Info("TURN off (turn_enabled is false in daemon_config.json)")
		return nil
	case o.WebRTCLoopback && !turn.LoopbackURL(client.URL):
		log.Info("TURN off: --webrtc-loopback fetches credentials only from a loopback REACHY_TURN_URL")
		return nil
	}
	tokenPath := daemon.HFTokenPath()
	r := turn.New(turn.Config{
		Fetch: client.Fetch,
		TTL:   client.TTLOrDefault(),
		Token: func() string { return hfToken(tokenPath) },
		Apply: func(s []turn.Server) error { return cell.SetExtraICEServers(s) },
		Log:   log,
	})
	es := sys.Kit.AS.EventStream
	sub := es.Subscribe(func(evt any) {
		switch evt.(type) {
		case messages.HFTokenChanged, *messages.HFTokenChanged:
			r.Kick()
		}
	})
	go func() {
		defer es.Unsubscribe(sub)
		r.Run(ctx)
	}()
	return r
}
