// Package sounds keeps the sounds users upload for the robot to play
// (/api/media/sounds, upload_audio_*), finds the file a play_sound request
// names, and makes the robot's own cue sounds (cues.go).
//
// The store is one folder. An upload is written by the gateway into the
// store's staging folder (inside the store, so on the same filesystem and
// the final rename is atomic), probed by the media actor (GStreamer
// discoverer: is it audio at all?), then committed: fsync, rename over any
// older file of that name, fsync of the folder. A file therefore appears
// whole or not at all, and no unprobed payload ever carries a public name.
// Names are checked as the reference checks them (media.py): a basename,
// not "." or "..", an extension from a fixed list, compared without case;
// the error texts are the reference's, and the errors are *messages.Error
// values of the kind the gateway maps to the reference's status codes.
//
// Differences from the reference, all refusals of what it lets through:
// names with a backslash, a control character, invalid UTF-8 or more than
// 255 bytes are "Invalid filename"; DELETE of "." or ".." is 400 (not 404);
// the store has a count and total size limit (the reference's /tmp folder
// has none); and play_sound resolves a relative name only inside the
// sounds and cues folders, one path element deep, where the reference also
// tried it against the working directory and let "../" climb out.
//
// Tested: name checks against the reference's cases and a fuzz target
// (whatever ValidName accepts stays inside the folder); commits, probes,
// overwrites, limits and deletes on a real folder, including concurrent
// commits; resolution order and traversal attempts; the cues' WAV headers,
// length, loudness, fades and pitch direction.
package sounds

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"reachyd/messages"
)

// Extensions the store accepts, compared in lower case (the reference's
// ALLOWED_SOUND_EXTENSIONS).
var Extensions = []string{".aac", ".flac", ".m4a", ".mp3", ".oga", ".ogg", ".opus", ".wav"}

// MaxUploadBytes is the reference's cap on one uploaded sound (25 MiB): the
// gateway refuses a larger body before reading it.
const MaxUploadBytes = 25 << 20

// Default store limits.
const (
	DefaultMaxFiles = 200
	DefaultMaxBytes = 500 << 20
)

// The errors callers see, with the reference's texts.
var (
	ErrFilenameRequired = &messages.Error{Kind: messages.KindBadRequest, Detail: "Filename is required", Reason: "filename_required"}
	ErrInvalidName      = &messages.Error{Kind: messages.KindBadRequest, Detail: "Invalid filename", Reason: "invalid_filename"}
	ErrExtension        = &messages.Error{Kind: messages.KindBadRequest, Detail: "Unsupported file extension; allowed: " + strings.Join(Extensions, ", "), Reason: "unsupported_extension"}
	ErrInvalidAudio     = &messages.Error{Kind: messages.KindBadRequest, Detail: "Unsupported or invalid audio file", Reason: "invalid_audio"}
	// ErrNotFound matches (errors.Is) the error of Delete for a missing
	// file, whose text names the file.
	ErrNotFound = &messages.Error{Kind: messages.KindNotFound, Reason: "sound_not_found"}
	// ErrFull matches the errors of Commit past the store's limits.
	ErrFull = &messages.Error{Kind: messages.KindTooLarge, Reason: "sounds_full"}
)

func notFound(name string) error {
	return &messages.Error{Kind: messages.KindNotFound, Detail: fmt.Sprintf("File '%s' not found", name), Reason: ErrNotFound.Reason}
}

// UploadName turns the file name a client sent with an upload into the name
// to store it under, as the reference does: the last path element (so
// "music/song.mp3" is stored as "song.mp3"), then ValidName.
func UploadName(filename string) (string, error) {
	if filename == "" {
		return "", ErrFilenameRequired
	}
	name := lastElement(filename)
	if err := ValidName(name); err != nil {
		return "", err
	}
	return name, nil
}

// lastElement is Python's PurePosixPath(p).name: the last element, with
// empty and "." elements dropped ("a/b/" gives "b", "a/." gives "a", "."
// gives "").
func lastElement(p string) string {
	parts := strings.Split(p, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if parts[i] != "" && parts[i] != "." {
			return parts[i]
		}
	}
	return ""
}

// ValidName checks a name to store a sound under: ErrInvalidName unless it
// is a plain file name, ErrExtension unless its extension is allowed.
func ValidName(name string) error {
	if err := validBase(name); err != nil {
		return err
	}
	if !slices.Contains(Extensions, strings.ToLower(suffix(name))) {
		return ErrExtension
	}
	return nil
}

// validBase accepts a single, ordinary path element.
func validBase(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) {
		return ErrInvalidName
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return ErrInvalidName
		}
	}
	return nil
}

// suffix is Python's PurePath.suffix: the extension after the last dot,
// where a leading dot does not count (".wav" has none, "a.wav" has ".wav",
// "a." has none).
func suffix(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	return name[i:]
}

// Options tune a Store.
type Options struct {
	// MaxFiles and MaxBytes bound what the store holds (DefaultMaxFiles,
	// DefaultMaxBytes if zero).
	MaxFiles int
	MaxBytes int64
	// CuesDir is where the built-in cues are (see WriteCues), for Resolve.
	CuesDir string
}

// Store is the uploaded-sounds folder. Its methods are safe for concurrent
// use.
type Store struct {
	dir, staging, cues string
	maxFiles           int
	maxBytes           int64
	mu                 sync.Mutex // orders commits and deletes
}

const stagingName = ".staging"

// Open opens (creating it, owner-only) the sounds folder dir and its
// staging folder, and clears what an interrupted upload left in staging.
func Open(dir string, opt Options) (*Store, error) {
	if opt.MaxFiles <= 0 {
		opt.MaxFiles = DefaultMaxFiles
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	dir = filepath.Clean(dir)
	s := &Store{dir: dir, staging: filepath.Join(dir, stagingName), cues: opt.CuesDir, maxFiles: opt.MaxFiles, maxBytes: opt.MaxBytes}
	if err := os.MkdirAll(s.staging, 0o700); err != nil {
		return nil, fmt.Errorf("sounds: %w", err)
	}
	if err := os.Chmod(s.staging, 0o700); err != nil {
		return nil, fmt.Errorf("sounds: %w", err)
	}
	left, err := os.ReadDir(s.staging)
	if err != nil {
		return nil, fmt.Errorf("sounds: %w", err)
	}
	for _, e := range left {
		os.RemoveAll(filepath.Join(s.staging, e.Name()))
	}
	return s, nil
}

// Dir is the sounds folder.
func (s *Store) Dir() string { return s.dir }

// Staging is the folder (owner-only, on the store's filesystem) where
// uploads are written before Commit.
func (s *Store) Staging() string { return s.staging }

// CreateTemp creates an owner-only file in the staging folder for an
// upload.
func (s *Store) CreateTemp() (*os.File, error) {
	return os.CreateTemp(s.staging, "upload-*.part")
}

// List returns the stored sounds' names, sorted; none (not nil) when the
// folder is empty or gone.
func (s *Store) List() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sounds: %w", err)
	}
	names := []string{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// Commit stores the staged upload temp under name. It checks the name,
// runs probe on the file (nil: no probe), checks the store's limits, then
// makes the file owner-only, flushes it and renames it over any older
// sound of that name. Commit consumes temp: on any failure it is removed,
// unless it is not in the staging folder (then it is not the store's to
// remove, and Commit refuses it). A probe failure is ErrInvalidAudio
// (wrapping the probe's error).
func (s *Store) Commit(temp, name string, probe func(path string) error) error {
	temp = filepath.Clean(temp)
	if filepath.Dir(temp) != s.staging {
		return fmt.Errorf("sounds: %s is not in the staging folder", temp)
	}
	st, err := os.Lstat(temp)
	if err != nil {
		return fmt.Errorf("sounds: %w", err)
	}
	if !st.Mode().IsRegular() {
		os.RemoveAll(temp)
		return fmt.Errorf("sounds: %s is not a regular file", temp)
	}
	done := false
	defer func() {
		if !done {
			os.Remove(temp)
		}
	}()
	if err := ValidName(name); err != nil {
		return err
	}
	// The probe may take seconds: run it before taking the lock.
	if probe != nil {
		if err := probe(temp); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidAudio, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkRoom(name, st.Size()); err != nil {
		return err
	}
	f, err := os.OpenFile(temp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sounds: %w", err)
	}
	err = f.Chmod(0o600)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sounds: %w", err)
	}
	if err := os.Rename(temp, filepath.Join(s.dir, name)); err != nil {
		return fmt.Errorf("sounds: %w", err)
	}
	done = true
	syncDir(s.dir)
	return nil
}

// checkRoom says whether a file of size bytes may be stored as name, given
// what the folder holds besides an older file of that name.
func (s *Store) checkRoom(name string, size int64) error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("sounds: %w", err)
	}
	count, total := 0, size
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == name {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		count++
		total += info.Size()
	}
	if count+1 > s.maxFiles {
		return &messages.Error{Kind: ErrFull.Kind, Reason: ErrFull.Reason,
			Detail: fmt.Sprintf("Too many sounds stored (limit %d); delete some first", s.maxFiles)}
	}
	if total > s.maxBytes {
		return &messages.Error{Kind: ErrFull.Kind, Reason: ErrFull.Reason,
			Detail: fmt.Sprintf("Not enough room for this sound (the sounds may take %s in all); delete some first", byteSize(s.maxBytes))}
	}
	return nil
}

func byteSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Delete removes a stored sound. A name that is not a plain file name is
// ErrInvalidName; a missing sound is a not-found error naming it (matching
// ErrNotFound).
func (s *Store) Delete(name string) error {
	if err := validBase(name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := filepath.Join(s.dir, name)
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return notFound(name)
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return notFound(name)
		}
		return fmt.Errorf("sounds: %w", err)
	}
	syncDir(s.dir)
	return nil
}

// Resolve finds the file play_sound names, in the reference's order: a
// relative name in the sounds folder, else an absolute path as given, else
// a relative name among the built-in cues. A relative name must be a single
// path element: "../x" or "a/b.wav" resolve to nothing, so no request
// reaches a file outside those folders by a relative name. Only regular
// files resolve.
func (s *Store) Resolve(file string) (string, bool) {
	if file == "" {
		return "", false
	}
	if filepath.IsAbs(file) {
		p := filepath.Clean(file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
		return "", false
	}
	if validBase(file) != nil {
		return "", false
	}
	for _, dir := range []string{s.dir, s.cues} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	return "", false
}

// syncDir flushes a folder's entries, so a rename or removal survives a
// power cut. Best effort: some filesystems refuse it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
