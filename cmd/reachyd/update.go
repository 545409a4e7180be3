package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"reachyd/actors/system"
	"reachyd/selfupdate"
)

// builtinUpdateKey is the public half of reachyd's release signing key
// (key id 29118dc0a922b08c): release indexes signed with it are trusted
// when no --update-key is given. The private half is never in this
// repository.
const builtinUpdateKey = "W2zi8OB8GQHefzVnXxZsoDUu4AUuv0TH+G6ArUeQRfc="

// exitRestart is the exit status that asks systemd to start reachyd again
// after an update (the unit's RestartForceExitStatus, and a success for
// SuccessExitStatus so the update is not logged as a failure). 75 is
// EX_TEMPFAIL.
const exitRestart = 75

// restartError is what run returns when an update installed a new binary:
// main then restarts the process on it (restartProcess).
type restartError struct{ exe string }

func (e *restartError) Error() string { return "restarting on the updated binary " + e.exe }

// updateKeys are the keys release indexes must be signed with: those of
// --update-key, else the built-in one.
func updateKeys(o *Options) ([]ed25519.PublicKey, error) {
	src := o.UpdateKeys
	if len(src) == 0 {
		src = []string{builtinUpdateKey}
	}
	keys := make([]ed25519.PublicKey, 0, len(src))
	for _, s := range src {
		k, err := selfupdate.ParsePublicKey(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// updateConfig sets up the self-update actor on the wireless robot (the
// reference serves /update only there). restart is handed the request to
// restart; run returns it and main acts on it.
func updateConfig(o *Options, log *slog.Logger, restart func(error)) (*system.UpdateConfig, error) {
	if !o.WirelessVersion {
		return nil, nil
	}
	keys, err := updateKeys(o)
	if err != nil {
		return nil, fmt.Errorf("--update-key: %w", err)
	}
	target, err := selfupdate.ResolveTarget(o.UpdateBinary)
	if err != nil {
		return nil, fmt.Errorf("the binary to update (--update-binary): %w", err)
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = selfupdate.KeyID(k)
	}
	if o.UpdateURL == "" {
		log.Info("self-update: no --update-url; the /update routes answer that no source is configured")
	} else {
		log.Info("self-update", "url", o.UpdateURL, "keys", strings.Join(ids, ","), "binary", target)
	}
	u := &selfupdate.Updater{
		Source:  &selfupdate.Source{URL: o.UpdateURL, Keys: keys},
		Current: Version, Dir: filepath.Join(o.DataDir, "updates"), Target: target,
	}
	return &system.UpdateConfig{Updater: u, Restart: func() { restart(&restartError{exe: target}) }}, nil
}

// restartProcess starts reachyd again on the new binary once run has
// stopped everything. Under systemd (INVOCATION_ID is set for a service's
// processes) it exits with exitRestart and systemd starts the unit again:
// the unit runs as an unprivileged user with NoNewPrivileges, so it could
// not ask systemctl itself. Otherwise it replaces the process with the new
// binary, same arguments and environment. exit and execve are the real
// ones in main; tests pass their own.
func restartProcess(r *restartError, args, env []string, exit func(int), execve func(string, []string, []string) error) error {
	for _, kv := range env {
		if strings.HasPrefix(kv, "INVOCATION_ID=") && len(kv) > len("INVOCATION_ID=") {
			exit(exitRestart)
			return nil
		}
	}
	if err := execve(r.exe, args, env); err != nil {
		return fmt.Errorf("re-executing %s after the update: %w (start reachyd again by hand)", r.exe, err)
	}
	return nil
}

// restartAfterUpdate is main's end when run asked for a restart.
func restartAfterUpdate(err error) error {
	var r *restartError
	if !errors.As(err, &r) {
		return err
	}
	return restartProcess(r, os.Args, os.Environ(), os.Exit, syscall.Exec)
}

// runUpdate is `reachyd update keygen|sign|verify|hash|rollback`: the
// release tools (a signing key, a signed index) and the rollback of an
// update on the robot.
func runUpdate(args []string, stdout, stderr io.Writer) error {
	usage := func() error {
		fmt.Fprint(stderr, `usage:
  reachyd update keygen -o KEYFILE            make a release signing key (prints its public half)
  reachyd update hash [-url URL] BINARY       print a binary's index entry (url, size, sha256)
  reachyd update sign -key KEYFILE [-append] INDEX
                                              check INDEX and write its signature to INDEX.sig
  reachyd update verify [-key BASE64]... INDEX
                                              check INDEX.sig (default: the built-in key) and INDEX
  reachyd update rollback [-binary PATH]      put PATH.previous back (default: this executable)
`)
		return flag.ErrHelp
	}
	if len(args) == 0 {
		return usage()
	}
	fs := flag.NewFlagSet("reachyd update "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "keygen":
		out := fs.String("o", "", "the private key file to create (mode 0600)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *out == "" || fs.NArg() > 0 {
			return usage()
		}
		return keygen(*out, stdout)
	case "hash":
		url := fs.String("url", "", "the binary's URL in the index (default: its file name, relative to the index)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usage()
		}
		return hashBinary(fs.Arg(0), *url, stdout)
	case "sign":
		key := fs.String("key", "", "the private key file")
		appendSig := fs.Bool("append", false, "add this key's signature to INDEX.sig (key rotation) instead of replacing it")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *key == "" || fs.NArg() != 1 {
			return usage()
		}
		return signIndex(*key, fs.Arg(0), *appendSig, stdout)
	case "verify":
		var keys []string
		fs.Func("key", "a trusted public key, base64 (repeatable; default: the built-in key)", func(v string) error {
			keys = append(keys, v)
			return nil
		})
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return usage()
		}
		return verifyIndex(fs.Arg(0), keys, stdout)
	case "rollback":
		bin := fs.String("binary", "", "the reachyd binary to roll back (default: this executable, symlinks resolved)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usage()
		}
		target, err := selfupdate.ResolveTarget(*bin)
		if err != nil {
			return err
		}
		if err := selfupdate.Rollback(target); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back %s: the previous binary is in place, the replaced one is %s\nrestart reachyd to run it (sudo systemctl restart reachyd)\n",
			target, selfupdate.PreviousPath(target))
		return nil
	}
	return usage()
}

func keygen(path string, stdout io.Writer) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(selfupdate.EncodePrivateKey(priv)); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key: %s (keep it off the robots and out of any repository)\npublic key: %s\nkey id: %s\nrobots trust it with: --update-key %s\n",
		path, selfupdate.EncodePublicKey(pub), selfupdate.KeyID(pub), selfupdate.EncodePublicKey(pub))
	return nil
}

func hashBinary(path, url string, stdout io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if url == "" {
		url = filepath.Base(path)
	}
	b, _ := json.MarshalIndent(selfupdate.Binary{URL: url, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}

// readPrivateKey reads a key file that only its owner may read.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return selfupdate.ParsePrivateKey(b)
}

func signIndex(keyPath, indexPath string, appendSig bool, stdout io.Writer) error {
	priv, err := readPrivateKey(keyPath)
	if err != nil {
		return err
	}
	index, err := os.ReadFile(indexPath)
	if err != nil {
		return err
	}
	// Never sign what the robots would refuse.
	ix, err := selfupdate.ParseIndex(index)
	if err != nil {
		return err
	}
	line := selfupdate.SignatureLine(priv, index)
	id := selfupdate.KeyID(priv.Public().(ed25519.PublicKey))
	var out []byte
	if appendSig {
		old, err := os.ReadFile(indexPath + ".sig")
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		// Keep other keys' lines; this key's is replaced.
		for _, l := range strings.SplitAfter(string(old), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[1] == id || strings.TrimSpace(l) == "" {
				continue
			}
			out = append(out, l...)
			if !bytes.HasSuffix(out, []byte("\n")) {
				out = append(out, '\n')
			}
		}
	}
	out = append(out, line...)
	if _, err := selfupdate.ParseSignatures(out); err != nil {
		return err
	}
	tmp := indexPath + ".sig.tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, indexPath+".sig"); err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintf(stdout, "signed %s (%d releases) with key %s: %s.sig\n", indexPath, len(ix.Releases), id, indexPath)
	return nil
}

func verifyIndex(indexPath string, keyArgs []string, stdout io.Writer) error {
	keys, err := updateKeys(&Options{UpdateKeys: keyArgs})
	if err != nil {
		return err
	}
	index, err := os.ReadFile(indexPath)
	if err != nil {
		return err
	}
	sig, err := os.ReadFile(indexPath + ".sig")
	if err != nil {
		return err
	}
	id, err := selfupdate.Verify(keys, index, sig)
	if err != nil {
		return err
	}
	ix, err := selfupdate.ParseIndex(index)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: signature by key %s verifies\n", indexPath, id)
	for _, r := range ix.Releases {
		platforms := make([]string, 0, len(r.Binaries))
		for p := range r.Binaries {
			platforms = append(platforms, p)
		}
		slices.Sort(platforms)
		pre := ""
		if r.IsPrerelease() {
			pre = " (pre-release)"
		}
		fmt.Fprintf(stdout, "  %s%s: %s\n", r.Version, pre, strings.Join(platforms, ", "))
	}
	return nil
}
