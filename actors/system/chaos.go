package system

import (
	"context"
	"log/slog"
	"time"

	"reachyd/actors/kit"
)

// Chaos crashes one actor in turn (Crashable's order, round robin) every
// interval until ctx ends, with kit.Crash, as a bug would: a testing aid
// for soak runs (--chaos-every), never on by default. motorbus and moves
// exist only while the backend runs; a crash sent while it does not is
// lost.
func (s *System) Chaos(ctx context.Context, every time.Duration, log *slog.Logger) {
	targets := s.Crashable()
	if every <= 0 || len(targets) == 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pid := targets[i%len(targets)]
		log.Warn("chaos: crashing an actor", "actor", pid.Id)
		s.Kit.Tell(pid, &kit.Crash{Reason: "chaos"})
	}
}
