package procs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroups is a cgroup v2 folder where reachyd may create a cgroup per app:
// its own cgroup when systemd delegates it (Delegate=yes), or, when
// reachyd runs as root outside a service, wherever it stands. A cgroup
// holds every process the app starts, whatever it does (setsid, double
// fork), and is killed as a whole (cgroup.kill, Linux 5.14+, or each of its
// processes).
type Cgroups struct {
	// Dir is the parent of the apps' cgroups.
	Dir string
}

// cgroupSeq numbers the cgroups this process creates.
var cgroupSeq atomic.Uint64

// appCgroupPrefix names the apps' cgroups: reachyd-app-<daemon pid>-<n>.
const appCgroupPrefix = "reachyd-app-"

// DetectCgroups finds reachyd's own cgroup v2 and checks it may hold the
// apps' cgroups: it must be writable by reachyd, its cgroup.procs too (a
// process moves between two cgroups only if the common parent's
// cgroup.procs is writable), and must not have controllers enabled for
// its children (reachyd itself lives there). The error says why not.
func DetectCgroups() (*Cgroups, error) {
	mnt, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	return CgroupsAt(filepath.Join(mnt, own))
}

// CgroupsAt checks that dir, a cgroup v2 folder, may hold the apps'
// cgroups (see DetectCgroups).
func CgroupsAt(dir string) (*Cgroups, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("%s is not a cgroup v2 folder", dir)
	}
	if err := unix.Access(filepath.Join(dir, "cgroup.procs"), unix.W_OK); err != nil {
		return nil, fmt.Errorf("cgroup %s is not delegated to reachyd (cgroup.procs: %v; under systemd: Delegate=yes)", dir, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control")); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err == nil { // not the root
			return nil, fmt.Errorf("cgroup %s has controllers enabled for its children (%s)", dir, strings.TrimSpace(string(b)))
		}
	}
	probe := filepath.Join(dir, fmt.Sprintf("%sprobe-%d-%d", appCgroupPrefix, os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create a cgroup in %s: %w", dir, err)
	}
	_ = os.Remove(probe)
	return &Cgroups{Dir: dir}, nil
}

// cgroup2Mount is where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint options ... - fstype source opts
		l := sc.Text()
		i := strings.Index(l, " - ")
		if i < 0 {
			continue
		}
		after := strings.Fields(l[i+3:])
		before := strings.Fields(l[:i])
		if len(after) > 0 && after[0] == "cgroup2" && len(before) >= 5 {
			return unescapeMount(before[4]), nil
		}
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup is reachyd's cgroup v2 path ("0::<path>" in /proc/self/cgroup).
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			if strings.HasSuffix(p, " (deleted)") {
				return "", errors.New("reachyd's cgroup was deleted")
			}
			return p, nil
		}
	}
	return "", errors.New("reachyd is in no cgroup v2")
}

// cgroup is one app's cgroup.
type cgroup struct {
	dir string
	fd  int // open on dir for CLONE_INTO_CGROUP, -1 if none
}

func (c *Cgroups) create() (*cgroup, error) {
	var dir string
	for i := 0; ; i++ {
		// A name taken is a previous daemon's that had this pid: its
		// record leads the daemon that reads it there; take another.
		dir = filepath.Join(c.Dir, fmt.Sprintf("%s%d-%d", appCgroupPrefix, os.Getpid(), cgroupSeq.Add(1)))
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) || i == 100 {
			return nil, fmt.Errorf("cannot create a cgroup: %w", err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(dir)
		return nil, fmt.Errorf("cannot open the cgroup: %w", err)
	}
	return &cgroup{dir: dir, fd: fd}, nil
}

// appCgroupDir reports whether dir looks like an app cgroup reachyd made:
// on a cgroup v2 hierarchy, named reachyd-app-*. A record naming another
// folder is not trusted to kill what is in it.
func appCgroupDir(dir string) bool {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || !strings.HasPrefix(filepath.Base(dir), appCgroupPrefix) {
		return false
	}
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// move puts pid in the cgroup (when it could not be born there).
func (c *cgroup) move(pid int) error {
	return os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// cgroupProcs lists the processes of a cgroup.
func cgroupProcs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// kill SIGKILLs every process of the cgroup: at once with cgroup.kill, else
// one by one (each checked to be in it still, through a pidfd).
func (c *cgroup) kill() {
	if os.WriteFile(filepath.Join(c.dir, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	for _, pid := range cgroupProcs(c.dir) {
		signalIf(pid, unix.SIGKILL, func() bool { return inCgroup(pid, c.dir) })
	}
}

func inCgroup(pid int, dir string) bool {
	for _, p := range cgroupProcs(dir) {
		if p == pid {
			return true
		}
	}
	return false
}

// remove deletes the cgroup once it is empty (it may take a moment after
// the last process died), killing what is left.
func (c *cgroup) remove() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
	end := time.Now().Add(killWait)
	for {
		err := os.Remove(c.dir)
		if err == nil || errors.Is(err, os.ErrNotExist) || time.Now().After(end) {
			return
		}
		if errors.Is(err, unix.EBUSY) {
			c.kill()
		}
		time.Sleep(5 * time.Millisecond)
	}
}
