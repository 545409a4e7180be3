package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ResetAll removes every installed app (the reference's /cache/reset-apps,
// which deletes its shared apps venv). Under the store's lock each app
// folder is renamed into the staging folder, so the apps are gone when
// ResetAll returns; purge deletes them (slow for many venvs: run it in the
// background; an interrupted purge is finished by Cleanup at the next
// start). If g.InUse says an app runs, nothing is removed (ErrInUse).
// Folders that are not apps' (no valid name) are left alone.
func (s *Store) ResetAll(g Guard) (removed int, purge func() error, err error) {
	root, err := s.root()
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, func() error { return nil }, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("reset apps: %w", err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() || ValidName(e.Name()) != nil {
			continue
		}
		if g.InUse != nil && g.InUse(e.Name()) {
			return 0, nil, fmt.Errorf("%w: stop '%s' before resetting the apps", ErrInUse, e.Name())
		}
		names = append(names, e.Name())
	}
	var trashes []string
	purge = func() error {
		var errs []error
		for _, t := range trashes {
			errs = append(errs, os.RemoveAll(t))
		}
		return errors.Join(errs...)
	}
	for _, n := range names {
		t, err := s.trashPath()
		if err == nil {
			err = os.Rename(filepath.Join(root, n), t)
		}
		if err != nil {
			return removed, purge, fmt.Errorf("reset apps: remove %q: %w", n, err)
		}
		trashes = append(trashes, t)
		removed++
	}
	return removed, purge, nil
}
