package apps

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"reachyd/actors/apps/store"
	"reachyd/actors/kit"
	"reachyd/messages"
)

// The startup app's install-if-missing and antenna watcher (daemon-api
// 5.3, the reference's startup_app.py):
//
//   - When the manager first starts in a daemon's life, a startup app that
//     is set but not installed (after a reset of the apps, say) is installed
//     from the Hugging Face catalogue by its name, as a job. If the first
//     wake-up ends before the install does, the app starts when the install
//     ends.
//   - While a startup app is set, the manager polls the robot (every 100 ms,
//     500 ms while the slot is taken) and, when a hand pushes an antenna of
//     an idle robot (Watch), plays the wake-up sound if the robot is awake
//     at its init pose, or enables the motors and plays wake_up (forced)
//     if it is not, then starts the app without evicting a remote session.
//
// Setting, clearing or removing the startup app re-arms the watcher at
// once. A restarted manager re-reads the setting and arms again; timers of
// an older arming are told apart by a generation kept in the Cell.

// startupCell is what outlives a restart of the manager.
type startupCell struct {
	checked     bool   // install-if-missing ran in this daemon's life
	gen         uint64 // generation of the current arming
	installing  string // the startup app being installed
	startOnDone bool   // the first wake-up came during that install
}

// Internal messages.
type (
	startupLoaded struct {
		name    string
		install bool
	}
	watchTick        struct{ gen uint64 }
	startupInstalled struct {
		name string
		ok   bool
	}
)

// touchTimeout bounds how long a touch may take to start the app (the
// wake-up lasts a few seconds).
const touchTimeout = 30 * time.Second

// watchState is the watcher's state in the current incarnation.
type watchState struct {
	name     string
	gen      uint64
	core     Watch
	touching bool      // a touch is being acted on
	touchAt  time.Time // since when
	wakeID   string    // the wake-up started for a touch
}

// startupStarted reads the startup app and arms (at a daemon's first start:
// installs it if missing).
func (a *Actor) startupStarted(ctx actor.Context) {
	c := a.opt.Cell
	c.mu.Lock()
	install := !c.startup.checked
	c.startup.checked = true
	c.mu.Unlock()
	self, root := ctx.Self(), ctx.ActorSystem().Root
	kit.AskFrom(ctx, a.opt.Daemon, &messages.GetSetting{Key: startupKey}, 3*time.Second, func(reply any, err error) {
		if err != nil {
			a.log.Warn("cannot read the startup app setting", "err", err)
			return
		}
		root.Send(self, &startupLoaded{name: settingString(reply), install: install})
	})
}

// startupMsg handles the startup app's internal messages and move ends.
func (a *Actor) startupMsg(ctx actor.Context, m any) {
	switch m := m.(type) {
	case *startupLoaded:
		a.armStartup(ctx, m.name, m.install)
	case *watchTick:
		a.watchPoll(ctx, m.gen)
	case *startupInstalled:
		a.startupInstallDone(ctx, m)
	case *messages.MoveDone:
		if a.watch.wakeID == "" || m.ID != a.watch.wakeID {
			return
		}
		a.watch.wakeID = ""
		if m.Result != messages.MoveCompleted {
			a.touchMissed("the wake-up did not complete: " + string(m.Result) + " " + m.Detail)
			return
		}
		a.startStartupIfFree(ctx)
	}
}

// armStartup (re)arms the watcher for name ("" disarms), installing the
// app first if install is set and it is missing.
func (a *Actor) armStartup(ctx actor.Context, name string, install bool) {
	c := a.opt.Cell
	c.mu.Lock()
	c.startup.gen++
	gen := c.startup.gen
	c.mu.Unlock()
	a.watch = watchState{name: name, gen: gen}
	if name == "" {
		return
	}
	if install {
		if _, err := a.opt.Store.Get(name); err != nil {
			a.installStartup(ctx, name)
		}
	}
	if a.opt.Hub == nil || a.opt.Lock == nil {
		return // no robot to watch (tests of the manager alone)
	}
	a.log.Info("startup app armed: an antenna touch on an idle robot starts it", "app", name)
	a.scheduleWatch(ctx, gen, WatchIdlePoll)
}

func (a *Actor) scheduleWatch(ctx actor.Context, gen uint64, d time.Duration) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	time.AfterFunc(d, func() { root.Send(self, &watchTick{gen: gen}) })
}

// watchPoll reads the robot and the slot, then steps the watcher.
func (a *Actor) watchPoll(ctx actor.Context, gen uint64) {
	if gen != a.watch.gen || a.watch.name == "" {
		return // an older arming
	}
	if a.watch.touching {
		// A wake-up whose end never came (its actor crashed) must not
		// stop the watcher for good.
		if time.Since(a.watch.touchAt) > touchTimeout {
			a.touchMissed("no answer from the robot")
		}
		a.scheduleWatch(ctx, gen, WatchBlockedPoll)
		return
	}
	kit.AskFrom(ctx, a.opt.Hub, &messages.GetState{}, time.Second, func(reply any, err error) {
		st, _ := reply.(*messages.RobotState)
		in := WatchInput{Ready: err == nil && st != nil, State: st}
		if !in.Ready || a.core.Running() {
			a.watchStep(ctx, gen, in)
			return
		}
		kit.AskFrom(ctx, a.opt.Lock, &messages.GetLockStatus{}, time.Second, func(reply any, err error) {
			ls, ok := reply.(messages.LockStatus)
			in.SlotFree = err == nil && ok && ls.State == messages.LockFree && !a.core.Running()
			a.watchStep(ctx, gen, in)
		})
	})
}

func (a *Actor) watchStep(ctx actor.Context, gen uint64, in WatchInput) {
	if gen != a.watch.gen {
		return // re-armed while asking
	}
	was := a.watch.core.Armed()
	touched, next := a.watch.core.Step(in)
	if !was && a.watch.core.Armed() {
		a.log.Debug("antenna watcher: resting position taken", "antennas", in.State.Antennas)
	}
	if touched {
		a.antennaTouched(ctx, in.State)
	}
	a.scheduleWatch(ctx, gen, next)
}

// antennaTouched wakes the robot if needed and starts the startup app.
func (a *Actor) antennaTouched(ctx actor.Context, st *messages.RobotState) {
	name := a.watch.name
	if _, err := a.opt.Store.Get(name); err != nil {
		a.log.Info("antenna touch ignored: the startup app is not installed", "app", name)
		a.watch.core.Missed()
		return
	}
	a.watch.touching, a.watch.touchAt = true, time.Now()
	// Decide before touching the motors: enabling them would change the
	// answer.
	if AwakeAtInit(st) {
		if a.opt.Media != nil {
			ctx.Send(a.opt.Media, &messages.PlaySound{File: "wake_up.wav"})
		}
		a.startStartupIfFree(ctx)
		return
	}
	a.log.Info("waking up from an antenna touch before starting the startup app", "app", name)
	if a.opt.Motorbus == nil || a.opt.Moves == nil {
		a.touchMissed("no motors to wake")
		return
	}
	gen := a.watch.gen
	kit.AskFrom(ctx, a.opt.Motorbus, &messages.SetMotorMode{Mode: messages.ModeEnabled}, 5*time.Second, func(_ any, err error) {
		if gen != a.watch.gen {
			return
		}
		if err != nil {
			a.touchMissed("cannot enable the motors: " + err.Error())
			return
		}
		id := uuid.NewString()
		a.watch.wakeID = id
		// Forced: the motors just enabled may make the robot count as
		// awake already, which would make wake_up a no-op.
		kit.AskFrom(ctx, a.opt.Moves, &messages.StartMove{ID: id, Kind: messages.MoveWakeUp, Origin: messages.OriginDaemon,
			Force: true, Notify: ctx.Self()}, 5*time.Second, func(_ any, err error) {
			if err != nil && gen == a.watch.gen && a.watch.wakeID == id {
				a.watch.wakeID = ""
				a.touchMissed("cannot wake the robot up: " + err.Error())
			}
		})
	})
}

// touchMissed ends a touch that started nothing: the watcher re-arms.
func (a *Actor) touchMissed(why string) {
	a.log.Warn("antenna touch: the startup app was not started", "app", a.watch.name, "reason", why)
	a.watch.touching = false
	a.watch.core.Missed()
}

// startStartupIfFree starts the startup app if no app occupies the robot
// and the lock is free (the wake-up's own start may have won the race).
func (a *Actor) startStartupIfFree(ctx actor.Context) {
	name, gen := a.watch.name, a.watch.gen
	if a.core.Running() {
		a.watch.touching = false
		return
	}
	kit.AskFrom(ctx, a.opt.Lock, &messages.GetLockStatus{}, 3*time.Second, func(reply any, err error) {
		if gen != a.watch.gen {
			return
		}
		ls, ok := reply.(messages.LockStatus)
		if a.core.Running() {
			a.watch.touching = false
			return
		}
		if err != nil || !ok || ls.State != messages.LockFree {
			a.touchMissed("the robot is taken")
			return
		}
		a.watch.touching = false
		a.log.Info("auto-starting the startup app from an antenna touch", "app", name)
		a.start(ctx, nil, &messages.StartApp{Name: name, Mode: messages.LockTry}, "start")
	})
}

// installStartup installs a missing startup app from the catalogue, as a
// job, by its name.
func (a *Actor) installStartup(ctx actor.Context, name string) {
	c := a.opt.Cell
	c.mu.Lock()
	c.startup.installing = name
	c.mu.Unlock()
	hf, st, g := a.hf(), a.opt.Store, a.guard(name)
	self, root, log := ctx.Self(), ctx.ActorSystem().Root, a.log
	log.Info("the startup app is not installed: installing it from the catalogue", "app", name)
	a.job(ctx, "install", func(jctx context.Context, logf func(string)) (err error) {
		defer func() {
			if err != nil {
				log.Error("cannot install the startup app", "app", name, "err", err)
			}
			root.Send(self, &startupInstalled{name: name, ok: err == nil})
		}()
		cctx, cancel := context.WithTimeout(jctx, 30*time.Second)
		catalogue, err := hf.ListSpaces(cctx)
		cancel()
		if err != nil {
			return fmt.Errorf("Startup app '%s' is not installed and the app catalogue is unreachable: %w", name, err)
		}
		var id string
		var private bool
		for _, app := range catalogue {
			if store.SameName(app.Name, name) {
				if id, private, err = store.SpaceIDFromAppInfo(app); err == nil {
					break
				}
				id = ""
			}
		}
		if id == "" {
			return fmt.Errorf("Startup app '%s' not installed and not in catalog", name)
		}
		logf("Installing startup app: " + name)
		if _, err := st.InstallSpace(jctx, hf, id, private, g, logf); err != nil {
			return fmt.Errorf("Failed to install app '%s': %w", name, err)
		}
		return nil
	})
}

// startupInstallDone starts the app if the first wake-up came during its
// install.
func (a *Actor) startupInstallDone(ctx actor.Context, m *startupInstalled) {
	c := a.opt.Cell
	c.mu.Lock()
	start := c.startup.startOnDone && m.ok
	c.startup.installing, c.startup.startOnDone = "", false
	c.mu.Unlock()
	if start && !a.core.Running() {
		a.log.Info("starting the startup app", "app", m.name)
		a.start(ctx, nil, &messages.StartApp{Name: m.name, Mode: messages.LockTry}, "start")
	}
}

// startupInstalling reports whether name is being installed as the
// startup app, and if so asks for it to start when the install ends.
func (a *Actor) deferStartupStart(name string) bool {
	c := a.opt.Cell
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startup.installing == "" || c.startup.installing != name {
		return false
	}
	c.startup.startOnDone = true
	return true
}
