package system

import (
	"reachyd/actors/relay"
	"reachyd/media/webrtc"
)

// RelayConfig configures the central signalling relay (nil in Config: no
// relay). It runs only with media (Config.Media): its sessions go to the
// media actor's producer. Options.Producer, Lock, Cell and Log are set by
// Start.
type RelayConfig struct {
	Options relay.Options
}

// addRelay adds the relay to the top-level actors, after the lock and the
// media actor.
func (s *System) addRelay(cfg Config, add func(name string, opt relay.Options)) {
	if cfg.Relay == nil || cfg.Media == nil {
		return
	}
	o := cfg.Relay.Options
	cell := s.MediaCell
	o.Producer = func() *webrtc.Producer { return cell.Producer() }
	o.Lock = s.Lock
	o.Log = cfg.Log
	if o.Cell == nil {
		o.Cell = relay.NewCell() // kept by the root's props: a respawn keeps it
	}
	add("relay", o)
}
