package skills

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The skill host runs only while it has something to run. A Python
// interpreter with the host loaded costs about 27 MB and a wake-up a
// second, and most robots have no skill file: the built-in skills run in
// the daemon. So the host starts when the skills folder holds a Python
// file (at start, on an upload or an enable, or within FolderPoll of a
// file copied in by hand), and stops once the folder has held none, and
// the host no mission, for HostIdle. A file's skills are thus listed a
// host start-up later than they would be with a host always running,
// which callers already wait for: the host imports files asynchronously.

// Defaults of Options.HostIdle and Options.FolderPoll.
const (
	DefaultHostIdle   = time.Minute
	DefaultFolderPoll = 2 * time.Second
)

// folderTick: time to look at the skills folder.
type folderTick struct{}

// maxFolderEntries bounds the walk of hasPythonFiles: a folder bigger than
// that is taken to hold skills, rather than walked every FolderPoll.
const maxFolderEntries = 10000

// hasPythonFiles reports whether the skill host would find a skill file
// under root: a *.py file (or a link to one), hidden files and folders and
// __pycache__ skipped, as the host's list_python_files does.
func hasPythonFiles(root string) bool {
	found, n := false, 0
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable (or no folder yet): nothing there
		}
		if n++; n > maxFolderEntries {
			found = true
			return fs.SkipAll
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "__pycache__") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".py") || strings.HasPrefix(name, ".") {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(path); err != nil || st.IsDir() {
				return nil // a dangling link, which the host skips too
			}
		}
		found = true
		return fs.SkipAll
	})
	return found
}

// HostPid is the pid of the cell's skill host, or 0 when none runs.
func (c *Cell) HostPid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.host == nil {
		return 0
	}
	return c.host.Pid()
}

// armPoll schedules the next look at the folder.
func (a *Actor) armPoll(ctx actor.Context) {
	if a.poll != nil {
		a.poll.Stop()
	}
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.poll = time.AfterFunc(a.opt.FolderPoll, func() { root.Send(self, &folderTick{}) })
}

// checkFolder starts the host when the folder holds Python files and none
// runs (unless a restart after a failure is pending: its backoff stands),
// and stops a host that has had nothing to run for HostIdle.
func (a *Actor) checkFolder(ctx actor.Context, now time.Time) {
	if a.opt.Python == "" {
		return
	}
	wanted, busy := hasPythonFiles(a.opt.Files.Dir), a.hostBusy()
	a.c.mu.Lock()
	p, retrying, quitting, closed := a.c.host, a.c.retrying, a.c.quitting, a.c.closed
	if p == nil || wanted || busy {
		a.c.idleSince = time.Time{}
	}
	a.c.mu.Unlock()
	switch {
	case closed:
	case p == nil:
		if wanted && !retrying {
			a.startHost(ctx)
		}
	case p == quitting, wanted, busy, a.opt.HostIdle < 0:
	default:
		a.c.mu.Lock()
		since := a.c.idleSince
		if since.IsZero() {
			a.c.idleSince = now
		}
		stop := !since.IsZero() && now.Sub(since) >= a.opt.HostIdle
		if stop {
			a.c.quitting = p
		}
		a.c.mu.Unlock()
		if stop {
			a.log.Info("stopping the skill host: no Python skill to run", "for", now.Sub(since).Round(time.Second))
			go p.Stop(3 * time.Second) // its end comes back as hostExited
		}
	}
}

// hostBusy reports whether a mission runs on the host.
func (a *Actor) hostBusy() bool {
	for _, m := range a.core.Running() {
		if m.Manager == hostClient {
			return true
		}
	}
	return false
}
