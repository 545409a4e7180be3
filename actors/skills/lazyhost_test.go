package skills

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/actors/topics"
	"reachyd/messages"
)

func TestHasPythonFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string // relative paths; "->" makes a link to the right side
		want  bool
	}{
		{"no folder", nil, false},
		{"empty", []string{"."}, false},
		{"a skill", []string{"a.py"}, true},
		{"in a subfolder", []string{"pkg/b.py"}, true},
		{"other files only", []string{"notes.txt", "a.pyc", "py"}, false},
		{"hidden file", []string{".a.py"}, false},
		{"hidden folder", []string{".git/a.py"}, false},
		{"pycache", []string{"__pycache__/a.py"}, false},
		{"dangling link", []string{"a.py->missing.py"}, false},
		{"link to a file", []string{"real.txt", "a.py->real.txt"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "skills")
			for _, f := range tc.files {
				if err := os.MkdirAll(root, 0o700); err != nil {
					t.Fatal(err)
				}
				if f == "." {
					continue
				}
				if from, to, ok := strings.Cut(f, "->"); ok {
					if err := os.Symlink(filepath.Join(root, to), filepath.Join(root, from)); err != nil {
						t.Fatal(err)
					}
					continue
				}
				p := filepath.Join(root, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("x = 1\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if got := hasPythonFiles(root); got != tc.want {
				t.Fatalf("hasPythonFiles = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHostRunsOnlyWithSkills runs the real skill host: it is not started
// while the skills folder is empty, starts on the first upload and runs
// its skill, stops once the folder is empty again, and starts again with
// the next file. Built-in skills run meanwhile without it.
func TestHostRunsOnlyWithSkills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the Python skill host")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	broker := s.Root.Spawn(topics.Props(topics.Options{}))
	moves := s.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	dir := t.TempDir()
	cell := NewCell()
	pid := s.Root.Spawn(Props(Options{Log: s.Log, Files: Files{Dir: filepath.Join(dir, "skills")}, Python: py, APIURL: "http://127.0.0.1:1",
		WorkDir: filepath.Join(dir, "work"), Broker: broker, Moves: moves, Cell: cell,
		HostIdle: time.Millisecond, FolderPoll: 10 * time.Millisecond}))
	t.Cleanup(func() {
		cell.StopHost(3 * time.Second)
		s.Root.Stop(pid)
	})
	ask := func(msg any) any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := s.AskAny(ctx, pid, msg)
		if err != nil {
			t.Fatalf("%T: %v", msg, err)
		}
		return r
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	listed := func(name string) bool {
		l := ask(&messages.GetSkills{}).(messages.SkillsList)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(l.Skills, &m)
		_, ok := m[name]
		return ok
	}
	admin := messages.Principal{ClientID: "test", Level: messages.LevelAdmin}

	// Two asks: the first is answered after Started ran, the second after
	// anything Started queued.
	ask(&messages.GetSkills{})
	ask(&messages.GetSkills{})
	if p := cell.HostPid(); p != 0 {
		t.Fatalf("a skill host (pid %d) runs with an empty skills folder", p)
	}
	if !listed("stop_moving") {
		t.Fatal("the built-in skills are not listed without a host")
	}
	c := ask(&messages.CallSkill{Caller: admin, Name: "stop_moving"}).(messages.SkillCalled)
	if rep := ask(&messages.WaitMission{ID: c.Msg}).(messages.MissionReport); !c.Called || rep.Status != StatusCompleted {
		t.Fatalf("a built-in skill without a host: %+v %+v", c, rep)
	}
	if p := cell.HostPid(); p != 0 {
		t.Fatalf("a built-in skill started a skill host (pid %d)", p)
	}

	upload := func() {
		t.Helper()
		r := ask(&messages.UploadSkillFile{Name: "hello.py", Content: []byte("def hello():\n    return 'hi'\nhello.skill_info = {}\n")})
		if _, ok := r.(messages.SkillFileDone); !ok {
			t.Fatalf("upload: %v", r)
		}
		ask(&messages.GetSkills{}) // after the upload's effects
		if cell.HostPid() == 0 {
			t.Fatal("no skill host after the first skill file")
		}
	}
	upload()
	eventually("hello listed", func() bool { return listed("hello") })
	c = ask(&messages.CallSkill{Caller: admin, Name: "hello"}).(messages.SkillCalled)
	if !c.Called {
		t.Fatalf("call: %+v", c)
	}
	if rep := ask(&messages.WaitMission{ID: c.Msg}).(messages.MissionReport); rep.Status != StatusCompleted || string(rep.Value) != `"hi"` {
		t.Fatalf("hello: %+v", rep)
	}

	if r := ask(&messages.RemoveSkillFile{Name: "hello.py"}); r != (messages.SkillFileDone{Status: "removed", Name: "hello.py"}) {
		t.Fatalf("remove: %v", r)
	}
	eventually("the host stopped", func() bool { return cell.HostPid() == 0 })
	ask(&messages.GetSkills{})
	cell.mu.Lock()
	retrying := cell.retrying
	cell.mu.Unlock()
	if retrying {
		t.Fatal("a host stopped for want of skills is restarted as after a failure")
	}
	if listed("hello") {
		t.Fatal("the removed skill is still listed")
	}

	upload()
	eventually("hello listed again", func() bool { return listed("hello") })
}
