package selfupdate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ResolveTarget returns the file an update replaces: path (or, when empty,
// this executable) with every symlink resolved, so that a link such as
// /usr/local/bin/reachyd -> /var/lib/reachyd/bin/reachyd is kept and its
// target replaced.
func ResolveTarget(path string) (string, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", err
		}
		path = exe
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", real)
	}
	return real, nil
}

// PreviousPath is where Swap keeps the binary it replaced.
func PreviousPath(target string) string { return target + ".previous" }

// maxVersionOutput bounds what `--version` may print.
const maxVersionOutput = 4096

// CheckBinary runs `path --version` in a fresh temporary folder, with a
// minimal environment and a timeout, and checks that it prints
// "reachyd <want> ..." and exits 0: a binary for another architecture, a
// truncated one or a mislabelled one is refused before it is installed.
// Its whole process group is killed at the timeout.
func CheckBinary(ctx context.Context, path, want string, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".check-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + dir, "XDG_DATA_HOME=" + dir, "TMPDIR=" + dir}
	out := &capped{max: maxVersionOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	line, _, _ := strings.Cut(strings.TrimSpace(out.b.String()), "\n")
	line = strings.TrimSpace(line)
	switch {
	case ctx.Err() != nil:
		return line, fmt.Errorf("the new binary did not answer --version within %s", timeout)
	case err != nil:
		return line, fmt.Errorf("the new binary failed to run --version: %v (%s)", err, clip(line))
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "reachyd" || f[1] != want {
		return line, fmt.Errorf("the new binary says %q for --version, want \"reachyd %s ...\"", clip(line), want)
	}
	return line, nil
}

type capped struct {
	b   bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		if len(p) > room {
			c.b.Write(p[:room])
		} else {
			c.b.Write(p)
		}
	}
	return len(p), nil
}

// Swap installs the file at src over target, atomically: target always
// holds a complete binary, the old one until the final rename and the new
// one after it; the old one is kept as PreviousPath(target) (a hard link to
// the same file when the file system allows, so it is the very file that
// ran). The copy is made beside target (a rename cannot cross file
// systems) and its SHA-256 checked again against wantSHA, so the file that
// lands is the one that was verified. hook, if set, is called after each
// step ("staged", "previous", "swapped") for tests.
func Swap(src, target, wantSHA string, hook func(step string)) (err error) {
	if hook == nil {
		hook = func(string) {}
	}
	dir, base := filepath.Dir(target), filepath.Base(target)
	cleanStale(dir, base)
	st, err := os.Stat(target)
	if err != nil {
		return err
	}
	mode := st.Mode().Perm() | 0o555

	staged, err := copyTemp(src, dir, "."+base+".new-*", wantSHA)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(staged)
		}
	}()
	if err = os.Chmod(staged, mode); err != nil {
		return err
	}
	hook("staged")

	if err = keepPrevious(target); err != nil {
		return fmt.Errorf("keeping the previous binary: %w", err)
	}
	hook("previous")

	if err = os.Rename(staged, target); err != nil {
		return err
	}
	syncDir(dir)
	hook("swapped")
	return nil
}

// keepPrevious makes PreviousPath(target) the file now at target,
// replacing any older one in one rename.
func keepPrevious(target string) error {
	dir, base := filepath.Dir(target), filepath.Base(target)
	tmp := filepath.Join(dir, "."+base+".prev-"+randomSuffix())
	if err := os.Link(target, tmp); err != nil {
		// No hard links here: a copy of it.
		p, cerr := copyTemp(target, dir, "."+base+".prev-*", "")
		if cerr != nil {
			return errors.Join(err, cerr)
		}
		tmp = p
	}
	if err := os.Rename(tmp, PreviousPath(target)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Rollback puts PreviousPath(target) back at target; the binary it
// replaces becomes the previous one, so a second rollback undoes the first.
// Each step is a rename: target always holds a complete binary.
func Rollback(target string) error {
	prev := PreviousPath(target)
	st, err := os.Lstat(prev)
	if err != nil {
		return fmt.Errorf("no previous binary to roll back to: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", prev)
	}
	dir, base := filepath.Dir(target), filepath.Base(target)
	cur := filepath.Join(dir, "."+base+".cur-"+randomSuffix())
	if err := os.Link(target, cur); err != nil {
		p, cerr := copyTemp(target, dir, "."+base+".cur-*", "")
		if cerr != nil {
			return errors.Join(err, cerr)
		}
		cur = p
	}
	if err := os.Rename(prev, target); err != nil {
		os.Remove(cur)
		return err
	}
	if err := os.Rename(cur, prev); err != nil {
		os.Remove(cur)
		return fmt.Errorf("rolled back, but the replaced binary was not kept: %w", err)
	}
	syncDir(dir)
	return nil
}

// copyTemp copies src into a new temporary file in dir, fsyncs it, and,
// when wantSHA is set, checks the copy's SHA-256. It returns the copy's
// path.
func copyTemp(src, dir, pattern, wantSHA string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && wantSHA != "" && hex.EncodeToString(h.Sum(nil)) != wantSHA {
		err = fmt.Errorf("%w (the copy to install changed after it was verified)", ErrChecksum)
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

// cleanStale removes what an interrupted swap or rollback left beside
// target (its temporary files, never target or the previous binary).
func cleanStale(dir, base string) {
	for _, p := range []string{".new-*", ".prev-*", ".cur-*"} {
		m, _ := filepath.Glob(filepath.Join(dir, "."+base+p))
		for _, f := range m {
			os.Remove(f)
		}
	}
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func randomSuffix() string { return strings.ToLower(rand.Text()) }
