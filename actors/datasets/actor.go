package datasets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/messages"
)

// Options configure the datasets actor.
type Options struct {
	// Library finds datasets on disk; its dirs must include Hub.Cache for
	// downloaded datasets to be found.
	Library motion.Library
	// Hub downloads missing datasets (nil: no downloads; a dataset not on
	// disk is not found, and Off says why).
	Hub *Hub
	Off string
	// Jobs is the job register each download reports to (nil: none).
	Jobs *actor.PID
	Log  *slog.Logger
	// Cell keeps the downloads in flight across restarts (default: a new
	// one).
	Cell *Cell
}

// Cell holds the core and the downloads' cancel functions across restarts
// of the actor: a download's goroutine reports to the actor's PID, which
// outlives a restart, and its waiters are still there to be answered.
type Cell struct {
	mu      sync.Mutex
	core    *Core
	cancels map[string]context.CancelFunc // by job id
}

// NewCell returns an empty cell.
func NewCell() *Cell { return &Cell{core: NewCore(), cancels: map[string]context.CancelFunc{}} }

// Props returns the datasets actor's props.
func Props(opt Options) *actor.Props {
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	if opt.Cell == nil {
		opt.Cell = NewCell()
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &Actor{opt: opt, log: opt.Log.With("actor", "datasets"), core: opt.Cell.core}
	}, kit.CrashOption())
}

// Actor is the datasets actor shell.
type Actor struct {
	opt  Options
	log  *slog.Logger
	core *Core
}

// located is the disk's answer for a request that does not refresh.
type located struct {
	dataset string
	w       Waiter
	found   bool
	err     error // the library's, when not found
}

// downloaded is a download's end, from its goroutine.
type downloaded struct {
	dataset string
	res     Result
	err     error
	// onDisk is where the library finds the dataset afterwards ("" when
	// it does not).
	onDisk string
}

// Receive implements actor.Actor.
func (a *Actor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.EnsureDataset:
		a.request(ctx, m.Dataset, m.Refresh, Waiter{To: ctx.Sender()})
	case *messages.ListDataset:
		a.request(ctx, m.Dataset, false, Waiter{To: ctx.Sender(), List: true})
	case *located:
		if m.found {
			a.answer(ctx, m.dataset, m.w, "", nil)
			return
		}
		a.download(ctx, m.dataset, m.w, m.err)
	case *downloaded:
		a.finish(ctx, m)
	case *messages.CancelJob:
		a.opt.Cell.mu.Lock()
		cancel := a.opt.Cell.cancels[m.ID]
		a.opt.Cell.mu.Unlock()
		if cancel == nil {
			kit.Reply(ctx, &messages.Error{Kind: messages.KindBadRequest, Detail: "Job already finished", Reason: "job_finished"})
			return
		}
		cancel()
		kit.Reply(ctx, messages.JobCancelling{JobID: m.ID})
	case *actor.Stopping:
		// The daemon stops: downloads end (their temporary files go).
		a.opt.Cell.mu.Lock()
		for _, cancel := range a.opt.Cell.cancels {
			cancel()
		}
		a.opt.Cell.mu.Unlock()
	}
}

// request looks for the dataset on disk (off the actor's goroutine) unless
// refresh asks the Hub first.
func (a *Actor) request(ctx actor.Context, dataset string, refresh bool, w Waiter) {
	if err := motion.ValidateDatasetName(dataset); err != nil {
		a.reply(ctx, w.To, &messages.Error{Kind: messages.KindNotFound, Detail: err.Error()})
		return
	}
	if refresh && a.opt.Hub != nil {
		a.download(ctx, dataset, w, nil)
		return
	}
	self, root, lib := ctx.Self(), ctx.ActorSystem().Root, a.opt.Library
	go func() {
		_, err := lib.Locate(dataset)
		root.Send(self, &located{dataset: dataset, w: w, found: err == nil, err: err})
	}()
}

// download joins the dataset's download, or starts it.
func (a *Actor) download(ctx actor.Context, dataset string, w Waiter, libErr error) {
	if a.opt.Hub == nil {
		detail := fmt.Sprintf("dataset %q is not on disk", dataset)
		if libErr != nil {
			detail = libErr.Error()
		}
		if a.opt.Off != "" {
			detail += "; downloads are off (" + a.opt.Off + ")"
		}
		a.reply(ctx, w.To, &messages.Error{Kind: messages.KindNotFound, Reason: messages.ErrDatasetNotFound.Reason, Detail: detail})
		return
	}
	c := a.opt.Cell
	c.mu.Lock()
	job, start := a.core.Join(dataset, w, uuid.NewString)
	c.mu.Unlock()
	if !start {
		return
	}
	self, root, jobs, hub, lib := ctx.Self(), ctx.ActorSystem().Root, a.opt.Jobs, a.opt.Hub, a.opt.Library
	if jobs != nil {
		root.Send(jobs, &messages.RegisterJob{ID: job, Command: "download dataset " + dataset, Runner: self})
		root.Send(jobs, &messages.JobProgress{ID: job, Lines: []string{}})
	}
	jctx, cancel := context.WithCancel(context.Background())
	c.mu.Lock()
	c.cancels[job] = cancel
	c.mu.Unlock()
	a.log.Info("downloading a recorded-move dataset", "dataset", dataset, "endpoint", hub.endpoint(), "job", job)
	go func() {
		defer cancel()
		logf := func(line string) {
			if jobs != nil {
				root.Send(jobs, &messages.JobProgress{ID: job, Lines: []string{line}})
			}
		}
		res, err := hub.Download(jctx, dataset, logf)
		if err != nil && jctx.Err() != nil && !errors.Is(err, ErrBadDownload) {
			err = fmt.Errorf("%w: %s", ErrUnreachable, messages.ErrJobCancelled)
		}
		d := &downloaded{dataset: dataset, res: res, err: err}
		if p, lerr := lib.Locate(dataset); lerr == nil {
			d.onDisk = p
		}
		if jobs != nil {
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			root.Send(jobs, &messages.FinishJob{ID: job, Err: msg})
		}
		c.mu.Lock()
		delete(c.cancels, job)
		c.mu.Unlock()
		root.Send(self, d)
	}()
}

// finish answers a download's waiters. A failed refresh of a dataset that
// is on disk is not an error: the copy on disk serves, as huggingface_hub
// serves its cached snapshot when the Hub cannot be reached.
func (a *Actor) finish(ctx actor.Context, m *downloaded) {
	c := a.opt.Cell
	c.mu.Lock()
	job, waiters := a.core.Done(m.dataset)
	c.mu.Unlock()
	err := m.err
	switch {
	case err == nil && m.onDisk == "":
		// Downloaded, yet the library does not see it: the cache is not
		// one of its folders.
		err = fmt.Errorf("dataset %q was downloaded to %s, which is not a dataset folder of this daemon", m.dataset, m.res.Path)
		a.log.Error("dataset download", "dataset", m.dataset, "err", err)
	case err == nil:
		a.log.Info("dataset downloaded", "dataset", m.dataset, "commit", m.res.Commit,
			"files", m.res.Files, "fetched", m.res.Fetched, "bytes", m.res.FetchedBytes, "path", m.res.Path)
	case m.onDisk != "":
		a.log.Warn("dataset update failed; the copy on disk is used", "dataset", m.dataset, "err", err, "path", m.onDisk)
		err = nil
	default:
		a.log.Warn("dataset download failed", "dataset", m.dataset, "err", err, "job", job)
	}
	for _, w := range waiters {
		a.answer(ctx, m.dataset, w, job, a.publicError(m.dataset, err))
	}
}

// publicError maps a download's failure to the error callers see.
func (a *Actor) publicError(dataset string, err error) error {
	if err == nil {
		return nil
	}
	var me *messages.Error
	switch {
	case errors.As(err, &me):
		return me
	case errors.Is(err, ErrNotOnHub):
		return &messages.Error{Kind: messages.KindNotFound, Reason: messages.ErrDatasetNotFound.Reason,
			Detail: fmt.Sprintf("dataset %q is not on disk, nor on %s: %v", dataset, a.opt.Hub.endpoint(), err)}
	case errors.Is(err, ErrUnreachable), errors.Is(err, ErrBadDownload):
		return &messages.Error{Kind: messages.KindUnavailable, Reason: "dataset_download_failed",
			Detail: fmt.Sprintf("dataset %q is not on disk and could not be downloaded from %s: %v", dataset, a.opt.Hub.endpoint(), err)}
	case errors.Is(err, motion.ErrBadName):
		return &messages.Error{Kind: messages.KindNotFound, Detail: err.Error()}
	}
	return &messages.Error{Kind: messages.KindInternal, Reason: "dataset_download_failed",
		Detail: fmt.Sprintf("dataset %q could not be stored: %v", dataset, err)}
}

// answer replies to one waiter: DatasetReady, or for a list the moves (read
// off the actor's goroutine), or the error.
func (a *Actor) answer(ctx actor.Context, dataset string, w Waiter, job string, err error) {
	if w.To == nil {
		return
	}
	if err != nil {
		a.reply(ctx, w.To, err)
		return
	}
	root, lib := ctx.ActorSystem().Root, a.opt.Library
	go func() {
		if w.List {
			names, err := lib.List(dataset)
			if err != nil {
				root.Send(w.To, libraryError(err))
				return
			}
			root.Send(w.To, messages.DatasetMoves{Moves: names})
			return
		}
		p, err := lib.Locate(dataset)
		if err != nil {
			root.Send(w.To, libraryError(err))
			return
		}
		root.Send(w.To, messages.DatasetReady{Dataset: dataset, Path: p, JobID: job})
	}()
}

func (a *Actor) reply(ctx actor.Context, to *actor.PID, v any) {
	if to != nil {
		ctx.Send(to, v)
	}
}

// libraryError maps the library's errors to the reference's 404s.
func libraryError(err error) error {
	switch {
	case errors.Is(err, motion.ErrDatasetNotFound):
		return &messages.Error{Kind: messages.KindNotFound, Reason: messages.ErrDatasetNotFound.Reason, Detail: err.Error()}
	case errors.Is(err, motion.ErrMoveNotFound), errors.Is(err, motion.ErrBadName):
		return &messages.Error{Kind: messages.KindNotFound, Detail: err.Error()}
	}
	return &messages.Error{Kind: messages.KindInternal, Detail: fmt.Sprintf("reading dataset: %v", err)}
}
