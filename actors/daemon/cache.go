package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"reachyd/actors/moves/motion"
	"reachyd/messages"
)

// The reference's POST /cache/clear-hf removes the robot user's whole
// ~/.cache/huggingface. reachyd clears only the Hugging Face hub cache it
// reads recorded-move datasets and apps from (HF_HUB_CACHE, else
// $HF_HOME/hub, else ~/.cache/huggingface/hub), and in it only what
// huggingface_hub creates there: the repositories (models--*, datasets--*,
// spaces--*), the lock folder and its version file. Whatever else is in that
// folder, and the token beside it, stay: a mistaken HF_HUB_CACHE=/tmp does
// not empty /tmp.

// hubEntry matches the entries huggingface_hub makes in its hub cache.
var hubEntry = regexp.MustCompile(`^((models|datasets|spaces)--.+|\.locks|version\.txt|version_diskcache\.txt|CACHEDIR\.TAG)$`)

// trashPrefix names the folders a clear moves the entries into before
// deleting them.
const trashPrefix = ".reachyd-trash-"

// HubCacheDir is the folder ClearHFCache empties.
func HubCacheDir() string { return motion.DefaultHubCache() }

// ClearHubCache empties the hub cache at dir: the cache's entries are
// moved at once into a trash folder inside it (one rename each, so the
// cache is empty when ClearHubCache returns), and purge deletes the trash
// (slow for a large cache: run it in the background). removed counts the
// repositories. A missing dir is empty.
func ClearHubCache(dir string) (removed int, purge func() error, err error) {
	if !filepath.IsAbs(dir) {
		return 0, nil, fmt.Errorf("the Hugging Face cache folder %q is not an absolute path", dir)
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, func() error { return nil }, nil
	}
	if err != nil {
		return 0, nil, err
	}
	entries, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		root.Close()
		return 0, nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	trash := trashPrefix + hex.EncodeToString(b[:])
	var trashes []string
	made := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, trashPrefix) {
			trashes = append(trashes, name) // left by a clear that was interrupted
			continue
		}
		if !hubEntry.MatchString(name) {
			continue
		}
		if !made {
			if err := root.Mkdir(trash, 0o700); err != nil {
				root.Close()
				return 0, nil, err
			}
			made = true
			trashes = append(trashes, trash)
		}
		if err := root.Rename(name, trash+"/"+name); err != nil {
			root.Close()
			return removed, nil, err
		}
		if e.IsDir() && name != ".locks" {
			removed++
		}
	}
	purge = func() error {
		defer root.Close()
		var errs []error
		for _, t := range trashes {
			errs = append(errs, root.RemoveAll(t))
		}
		return errors.Join(errs...)
	}
	return removed, purge, nil
}

// clearHFCache answers ClearHFCache.
func (a *Actor) clearHFCache() any {
	dir := HubCacheDir()
	n, purge, err := ClearHubCache(dir)
	if err != nil {
		a.log.Error("cannot clear the Hugging Face cache", "dir", dir, "err", err)
		return &messages.Error{Kind: messages.KindInternal, Detail: "Failed to clear the HuggingFace cache: " + err.Error()}
	}
	a.log.Info("Hugging Face cache cleared", "dir", dir, "repositories", n)
	go func() {
		if err := purge(); err != nil {
			a.log.Warn("the cleared Hugging Face cache could not be fully deleted", "dir", dir, "err", err)
		}
	}()
	return messages.CacheCleared{Removed: n}
}
