package messages

import (
	"path"
	"regexp"
	"strings"
)

// fsPath finds absolute paths in a message: a slash at the start or after a
// space, quote, bracket, '=', ',' or ':', then anything up to the next such
// character.
var fsPath = regexp.MustCompile(`(^|[\s'"(\[=,:])(/[^\s'"()\[\],;]*)`)

// keptRoots are the first path elements left as they are: the API's own
// routes, which messages name for the user, and device files.
var keptRoots = map[string]bool{"api": true, "ws": true, "dev": true, "health-check": true,
	"update": true, "wifi": true, "logs": true, "cache": true, "status": true}

// PublicText returns a message fit for a client of the API: every absolute
// file-system path in it is cut to its last element ("open
// /home/pi/.local/share/reachyd/daemon_config.json: permission denied"
// becomes "open …/daemon_config.json: permission denied"), so error answers
// and job logs say which file failed without showing the server's layout,
// user names or home folders. The daemon's own log keeps the whole text.
func PublicText(s string) string {
	if !strings.Contains(s, "/") {
		return s
	}
	return fsPath.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexByte(m, '/')
		lead, p := m[:i], m[i:]
		first, _, _ := strings.Cut(p[1:], "/")
		if first == "" || keptRoots[first] {
			return m
		}
		base := path.Base(p)
		if base == "/" || base == "." {
			return lead + "…"
		}
		return lead + "…/" + base
	})
}
