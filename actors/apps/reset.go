package apps

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/apps/store"
	"reachyd/actors/kit"
	"reachyd/messages"
)

// reset removes every installed app (POST /cache/reset-apps). It refuses
// (409) while an app occupies the manager or a background job (install,
// update, removal) runs: those hold or are about to write app folders.
// The folders are gone when it answers; their deletion ends in the
// background. The startup app setting is kept: the app is installed again
// at the next start if it is missing (install-if-missing).
func (a *Actor) reset(ctx actor.Context) {
	if a.core.Running() {
		kit.Reply(ctx, &messages.Error{Kind: messages.KindConflict, Reason: "app_running",
			Detail: "Cannot reset the apps while an app is running. Please stop it first."})
		return
	}
	c := a.opt.Cell
	c.mu.Lock()
	busy := len(c.cancels) > 0
	c.mu.Unlock()
	if busy {
		kit.Reply(ctx, &messages.Error{Kind: messages.KindConflict, Reason: "apps_busy",
			Detail: "Cannot reset the apps while an app is being installed, updated or removed."})
		return
	}
	a.cache = nil
	n, purge, err := a.opt.Store.ResetAll(a.guard(""))
	switch {
	case errors.Is(err, store.ErrInUse):
		kit.Reply(ctx, &messages.Error{Kind: messages.KindConflict, Reason: "app_running", Detail: err.Error()})
		return
	case err != nil:
		a.log.Error("cannot reset the apps", "err", err)
		kit.Reply(ctx, &messages.Error{Kind: messages.KindInternal, Detail: "Failed to reset the apps: " + err.Error()})
		if purge != nil {
			go func() { _ = purge() }()
		}
		return
	}
	a.log.Info("apps reset", "removed", n)
	log := a.log
	go func() {
		if err := purge(); err != nil {
			log.Warn("the removed apps could not be fully deleted", "err", err)
		}
	}()
	kit.Reply(ctx, messages.AppsReset{Removed: n})
}
