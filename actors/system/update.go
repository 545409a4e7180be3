package system

import (
	"reachyd/actors/updater"
	"reachyd/selfupdate"
)

// UpdateConfig configures the self-update actor (the wireless robot's
// /update routes); nil in Config: no updater.
type UpdateConfig struct {
	Updater *selfupdate.Updater
	// Restart restarts the process on the new binary (see updater.Options).
	Restart func()
}

// addUpdate adds the updater to the top-level actors.
func (s *System) addUpdate(cfg Config, add func(name string, opt updater.Options)) {
	if cfg.Update == nil {
		return
	}
	s.Update = s.Kit.PID(Root + "/update")
	add("update", updater.Options{Updater: cfg.Update.Updater, Restart: cfg.Update.Restart,
		Jobs: s.Jobs, Hub: s.Hub, Cell: updater.NewCell(), Log: cfg.Log})
}
