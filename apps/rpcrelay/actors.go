package rpcrelay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// ActorApps is Apps through the actor tree: the apps actor (start, stop,
// status, lists, installs as jobs) and the job register (an install's
// end).
type ActorApps struct {
	Kit  *kit.System
	Apps *actor.PID
	Jobs *actor.PID
	// JobPoll is how often an install's job is looked at (default 500 ms).
	JobPoll time.Duration
}

// running reports whether an app counts as running for the reference's
// relay (AppManager.is_app_running: starting, running, error, stopping).
func running(s *messages.AppStatus) bool {
	if s == nil {
		return false
	}
	switch s.State {
	case messages.AppStarting, messages.AppRunning, messages.AppError, messages.AppStopping:
		return true
	}
	return false
}

func status(s *messages.AppStatus) Status {
	if !running(s) {
		return Status{State: "idle"}
	}
	return Status{State: string(s.State), Error: s.Error, Name: s.Info.Name, Description: s.Info.Description, URL: s.Info.URL}
}

// mapErr turns the apps actor's errors into JSON-RPC errors: a start that
// finds the slot taken is already_running (the reference catches the
// RuntimeError start_app raises), anything else internal_error with the
// actor's text.
func mapErr(err error) error {
	var me *messages.Error
	if errors.As(err, &me) {
		switch me.Reason {
		case "app_running", "local_app_running", "slot_in_use":
			return &Error{Code: CodeServer, Message: messages.PublicText(me.Detail), Reason: ReasonAlreadyRunning}
		}
		return &Error{Code: CodeInternal, Message: messages.PublicText(me.Detail), Reason: ReasonInternal}
	}
	if errors.Is(err, kit.ErrNoActor) || errors.Is(err, kit.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: CodeInternal, Message: "The daemon is busy; try again.", Reason: ReasonInternal}
	}
	return &Error{Code: CodeInternal, Message: err.Error(), Reason: ReasonInternal}
}

// Start starts an installed app, keeping the remote session
// (messages.LockKeep).
func (a ActorApps) Start(ctx context.Context, name string) (Status, error) {
	st, err := kit.Ask[messages.AppStatus](ctx, a.Kit, a.Apps, &messages.StartApp{Name: name, Mode: messages.LockKeep})
	if err != nil {
		return Status{}, mapErr(err)
	}
	return Status{State: string(st.State), Error: st.Error, Name: st.Info.Name, Description: st.Info.Description, URL: st.Info.URL}, nil
}

// Stop stops the running app.
func (a ActorApps) Stop(ctx context.Context) error {
	if _, err := a.Kit.AskAny(ctx, a.Apps, &messages.StopApp{}); err != nil {
		return mapErr(err)
	}
	return nil
}

// Status is the current app.
func (a ActorApps) Status(ctx context.Context) (Status, error) {
	r, err := kit.Ask[messages.CurrentApp](ctx, a.Kit, a.Apps, &messages.GetAppStatus{})
	if err != nil {
		return Status{}, mapErr(err)
	}
	return status(r.Status), nil
}

// AppURL is the running app's custom_app_url, read from its installed
// metadata.
func (a ActorApps) AppURL(ctx context.Context) (string, error) {
	r, err := kit.Ask[messages.CurrentApp](ctx, a.Kit, a.Apps, &messages.GetAppStatus{})
	if err != nil {
		return "", mapErr(err)
	}
	if r.Status == nil || (r.Status.State != messages.AppStarting && r.Status.State != messages.AppRunning) {
		return "", nil
	}
	list, err := kit.Ask[messages.AppList](ctx, a.Kit, a.Apps, &messages.ListApps{Source: "installed"})
	if err != nil {
		return "", mapErr(err)
	}
	for _, app := range list.Apps {
		if app.Name == r.Status.Info.Name {
			u, _ := app.Extra["custom_app_url"].(string)
			if u == "" {
				return "", &Error{Code: CodeServer, Reason: ReasonAppUnavailable,
					Message: fmt.Sprintf("the app '%s' declares no custom_app_url: it serves no /rpc", app.Name)}
			}
			return u, nil
		}
	}
	return "", nil
}

// Install installs name from the Hugging Face catalogue unless it is
// installed (the reference's ensure_startup_app_installed: exact names),
// and waits for the install's job to end.
func (a ActorApps) Install(ctx context.Context, name string) error {
	failed := func(why string) error {
		return &Error{Code: CodeServer, Reason: ReasonInstallFailed,
			Message: fmt.Sprintf("could not install app '%s' (%s)", name, why)}
	}
	installed, err := kit.Ask[messages.AppList](ctx, a.Kit, a.Apps, &messages.ListApps{Source: "installed"})
	if err != nil {
		return failed("cannot list the installed apps: " + mapErr(err).Error())
	}
	for _, app := range installed.Apps {
		if app.Name == name {
			return nil
		}
	}
	catalogue, err := kit.Ask[messages.AppList](ctx, a.Kit, a.Apps, &messages.ListApps{Source: "hf_space"})
	if err != nil {
		return failed("the app catalogue is unreachable: " + mapErr(err).Error())
	}
	var match *messages.AppInfo
	for i := range catalogue.Apps {
		if catalogue.Apps[i].Name == name {
			match = &catalogue.Apps[i]
			break
		}
	}
	if match == nil {
		return failed("not in the catalog")
	}
	job, err := kit.Ask[messages.JobStarted](ctx, a.Kit, a.Apps, &messages.InstallApp{Info: *match})
	if err != nil {
		return failed(mapErr(err).Error())
	}
	poll := a.JobPoll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		info, err := kit.Ask[messages.JobInfo](ctx, a.Kit, a.Jobs, &messages.GetJob{ID: job.JobID})
		if err == nil && info.Status.Finished() {
			if info.Status == messages.JobDone {
				return nil
			}
			last := ""
			if n := len(info.Logs); n > 0 {
				last = info.Logs[n-1]
			}
			return failed("the install failed: " + last)
		}
		select {
		case <-ctx.Done():
			return failed("the install did not end in time; it goes on as job " + job.JobID)
		case <-t.C:
		}
	}
}
