package procs

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// Record describes a running app so that a restarted reachyd can end it
// (EndOrphans) if the previous one died without stopping it. Start writes
// it before the app runs (Pid 0: only the token and the cgroup are known
// yet), again once the leader runs, and whenever the app's other processes
// change; it is removed once every process of the app is gone.
type Record struct {
	Name string `json:"name"`
	Pid  int    `json:"pid"`
	Pgid int    `json:"pgid"`
	// StartTicks is field 22 of /proc/<pid>/stat: with BootID it tells
	// the recorded process from a later one that reuses its pid.
	StartTicks uint64    `json:"start_ticks"`
	Path       string    `json:"path"`
	Started    time.Time `json:"started"`
	// BootID is /proc/sys/kernel/random/boot_id: start ticks restart at
	// every boot, so a record from another boot matches nothing.
	BootID string `json:"boot_id,omitempty"`
	// Session is the leader's session id; group members must share it.
	Session int `json:"session,omitempty"`
	// Token is the value of TokenEnv in the app's environment, which what
	// it starts inherits: leftovers that left the process group before they
	// were seen are still found by it.
	Token string `json:"token,omitempty"`
	// Cgroup is the app's own cgroup folder, if it had one.
	Cgroup string `json:"cgroup,omitempty"`
	// Members are the app's other processes seen so far, with their start
	// times (a reused pid is never taken for one of them).
	Members []Member `json:"members,omitempty"`
}

// Member is one of an app's processes besides its leader.
type Member struct {
	Pid        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
}

// maxRecordMembers bounds the members a record lists (an app that forks
// without end is still found by its token, its group and its cgroup).
const maxRecordMembers = 1024

// RecordOf describes p (name defaults to the spec's name). Identity
// fields are read when p starts (Linux only; zero elsewhere).
func RecordOf(p *Process, name string) Record {
	if name == "" {
		name = p.spec.Name
	}
	r := Record{
		Name:       name,
		Pid:        p.pid,
		Pgid:       p.pid,
		StartTicks: p.ident.startTicks,
		Path:       p.spec.Path,
		Started:    p.started,
		BootID:     p.ident.bootID,
		Session:    p.ident.session,
		Token:      p.token,
	}
	if p.cg != nil {
		r.Cgroup = p.cg.dir
	}
	p.trackMu.Lock()
	r.Members = append([]Member(nil), p.recorded...)
	p.trackMu.Unlock()
	return r
}

// WriteRecord writes r to path atomically (temp file in the same folder,
// fsync, rename), mode 0600.
func WriteRecord(path string, r Record) (err error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable; best effort.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// ReadRecord reads a record written by WriteRecord. The error satisfies
// errors.Is(err, os.ErrNotExist) when there is none.
func ReadRecord(path string) (Record, error) {
	var r Record
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(b, &r)
	return r, err
}

// RemoveRecord removes the record at path; no record is not an error.
func RemoveRecord(path string) error {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
