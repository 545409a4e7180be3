package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// The sounds folder (routers/media.py of the reference): uploads, the list,
// deletes. The gateway checks names and streams the upload to a staging
// file; the media actor, which owns the folder, probes the file and renames
// it into place (messages.SaveSound), lists and deletes.

const (
	soundUploadPath = "/api/media/sounds/upload"
	// maxSoundUpload is the reference's MAX_SOUND_UPLOAD_BYTES (25 MiB),
	// applied, as its middleware does, to the whole request body.
	maxSoundUpload = 25 * 1024 * 1024
)

var soundTooLarge = fmt.Sprintf("Request body too large; maximum is %d bytes", maxSoundUpload)

// soundExtensions is the reference's ALLOWED_SOUND_EXTENSIONS.
var soundExtensions = []string{".aac", ".flac", ".m4a", ".mp3", ".oga", ".ogg", ".opus", ".wav"}

var badExtension = "Unsupported file extension; allowed: " + strings.Join(soundExtensions, ", ")

// saveSoundTimeout bounds the media actor's probe and rename (the
// reference's GStreamer probe alone may take 5 s).
const saveSoundTimeout = 20 * time.Second

// soundName returns the name an uploaded sound is stored under: the last
// element of the client's file name (either separator), as the reference's
// Path(filename).name; "" when nothing usable is left. Names with control
// characters or over 255 bytes are refused too (stricter than the
// reference, whose file system would fail on the latter).
func soundName(client string) string {
	name := client
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) {
		return ""
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return ""
		}
	}
	return name
}

func allowedSoundExt(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	i := sort.SearchStrings(soundExtensions, ext)
	return ext != "" && i < len(soundExtensions) && soundExtensions[i] == ext
}

// soundUpload is POST /api/media/sounds/upload: the multipart field "file".
// The body is capped at 25 MiB (refused before it is read when
// Content-Length says more, by bodyLimit; cut off while it streams
// otherwise) and written to a 0600 file in the staging folder, which the
// media actor then probes and renames; the staging file never outlives a
// failed upload.
func (g *Gateway) soundUpload(c echo.Context) error {
	r := c.Request()
	mt, params, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return invalid(c, missingFile())
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return invalid(c, missingFile())
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return invalid(c, missingFile())
		}
		if err != nil {
			return soundBodyError(c, err)
		}
		if part.FormName() != "file" {
			continue
		}
		// The raw name: Part.FileName would already have cut folders off.
		_, dp, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition"))
		client, hasName := dp["filename"]
		if !hasName || client == "" {
			return detail(c, http.StatusBadRequest, "Filename is required")
		}
		name := soundName(client)
		if name == "" {
			return detail(c, http.StatusBadRequest, "Invalid filename")
		}
		if !allowedSoundExt(name) {
			return detail(c, http.StatusBadRequest, badExtension)
		}
		if g.sys.Media == nil {
			return detail(c, http.StatusServiceUnavailable, noMediaSounds)
		}
		return g.stageSound(c, name, part)
	}
}

// noMediaSounds answers an upload when the daemon runs without media.
const noMediaSounds = "Sound uploads are unavailable: the daemon runs without media (no_media)"

// stageSound streams the part to a staging file, then hands it to the
// media actor.
func (g *Gateway) stageSound(c echo.Context, name string, part io.Reader) error {
	dir, err := g.stagingDir()
	if err != nil {
		g.log.Error("sound upload: staging folder unusable", "err", err)
		return detail(c, http.StatusInternalServerError, "Sound uploads are unavailable: the staging folder cannot be used (see the daemon log)")
	}
	f, err := os.CreateTemp(dir, "upload-*.part") // O_EXCL, mode 0600
	if err != nil {
		g.log.Error("sound upload: cannot create a staging file", "err", err)
		return detail(c, http.StatusInternalServerError, "Sound upload failed (see the daemon log)")
	}
	temp := f.Name()
	saved := false
	defer func() {
		if !saved {
			_ = os.Remove(temp)
		}
	}()
	body := &readSide{r: part}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if body.err != nil {
		return soundBodyError(c, body.err)
	}
	if err != nil {
		g.log.Error("sound upload: cannot write the staging file", "err", err)
		return detail(c, http.StatusInternalServerError, "Sound upload failed (see the daemon log)")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), saveSoundTimeout)
	defer cancel()
	if _, err := kit.Ask[messages.MediaOK](ctx, g.sys.Kit, g.sys.Media, &messages.SaveSound{Name: name, Temp: temp}); err != nil {
		return g.fail(c, err, false)
	}
	// The media actor renamed the file (or, had it failed, said so);
	// removing the temp name now would only race a later upload's name.
	saved = true
	o := wire.ObjStart(nil)
	o.String("status", "ok")
	o.String("path", g.soundPath(name))
	return jsonBytes(c, o.End())
}

// soundPath is where a sound named name is kept, as the reference's answer
// gives it (the SDK plays it by that path).
func (g *Gateway) soundPath(name string) string {
	if g.cfg.SoundsDir == "" {
		return name
	}
	return filepath.Join(g.cfg.SoundsDir, name)
}

// readSide remembers the error of the reader io.Copy reads from, to tell
// a body that could not be read (too large, too slow, cut off: the client's
// doing) from a file that could not be written (the daemon's).
type readSide struct {
	r   io.Reader
	err error
}

func (x *readSide) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err != io.EOF {
		x.err = err
	}
	return n, err
}

// soundBodyError is bodyError with the reference's 413 for this route.
func soundBodyError(c echo.Context, err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return detail(c, http.StatusRequestEntityTooLarge, soundTooLarge)
	}
	return bodyError(c, err)
}

// missingFile is FastAPI's 422 for a form without the required "file".
func missingFile() validate.Errors {
	return validate.Errors{{Type: "missing", Loc: []any{"body", "file"}, Msg: "Field required", Input: nil}}
}

// stagingDir makes sure the staging folder exists, is a real folder (not a
// link) owned by this user, and is private (0700): it may sit in a shared
// /tmp, where another user could have made it first.
func (g *Gateway) stagingDir() (string, error) {
	dir := g.cfg.SoundsStaging
	if dir == "" {
		return "", errors.New("no staging folder configured (gateway Config.SoundsStaging)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a folder", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return "", fmt.Errorf("%s belongs to uid %d, not to this daemon", dir, st.Uid)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// soundList is GET /api/media/sounds: {"files": [names]}.
func (g *Gateway) soundList(c echo.Context) error {
	var names []string
	if g.sys.Media != nil {
		s, err := ask[messages.Sounds](g, c, g.sys.Media, &messages.ListSounds{})
		if err != nil {
			return g.fail(c, err, false)
		}
		names = s.Names
	}
	if names == nil {
		names = []string{}
	}
	o := wire.ObjStart(nil)
	o.Strings("files", names)
	return jsonBytes(c, o.End())
}

// soundDelete is DELETE /api/media/sounds/{filename}.
func (g *Gateway) soundDelete(c echo.Context) error {
	name := pathParam(c, "filename")
	base := name
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	if base == "" || base == "." || base == ".." || base != name || strings.ContainsAny(name, `/\`) {
		return detail(c, http.StatusBadRequest, "Invalid filename")
	}
	notFound := fmt.Sprintf("File '%s' not found", name)
	if g.sys.Media == nil {
		return detail(c, http.StatusNotFound, notFound)
	}
	if _, err := ask[messages.MediaOK](g, c, g.sys.Media, &messages.DeleteSound{Name: name}); err != nil {
		if messages.KindOf(err) == messages.KindNotFound {
			return detail(c, http.StatusNotFound, notFound)
		}
		return g.fail(c, err, false)
	}
	return jsonBytes(c, []byte(`{"status":"ok"}`))
}

// pathParam returns a path parameter decoded as Starlette decodes it
// (%2F included: the router matched on the raw path).
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if strings.ContainsRune(v, '%') {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// errSoundPath refuses a sound named by a path from a caller that may not
// name files on the robot.
var errSoundPath = &messages.Error{Kind: messages.KindForbidden, Reason: "sound_path_refused",
	Detail: "Playing a file by its path is only allowed over the daemon's unix socket; upload the sound (POST /api/media/sounds/upload) and play it by name"}

// soundRef checks what a client asks to play. A plain name (a sound in the
// sounds folder, or a built-in cue) is always fine; so is the path of a
// sound in the sounds folder, which is what an upload answers with. Any
// other path is allowed only to a trusted local caller (reachyd's user or
// root on the unix socket), as a local app install's path is: a network
// client could otherwise have the daemon open any file, device files
// included, through the audio decoder.
func (g *Gateway) soundRef(file string, trusted bool) (string, error) {
	if file == "" || file == "." || file == ".." || strings.ContainsRune(file, 0) {
		return "", &messages.Error{Kind: messages.KindBadRequest, Detail: "Invalid sound file name", Reason: "invalid_sound"}
	}
	if trusted || !strings.ContainsAny(file, `/\`) {
		return file, nil
	}
	if g.cfg.SoundsDir != "" && filepath.IsAbs(file) && !strings.ContainsRune(file, '\\') {
		clean := filepath.Clean(file)
		if filepath.Dir(clean) == filepath.Clean(g.cfg.SoundsDir) && soundName(filepath.Base(clean)) != "" {
			return clean, nil
		}
	}
	return "", errSoundPath
}
