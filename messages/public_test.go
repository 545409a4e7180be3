package messages

import "testing"

func TestPublicText(t *testing.T) {
	for in, want := range map[string]string{
		"open /home/pi/.local/share/reachyd/daemon_config.json: permission denied":  "open …/daemon_config.json: permission denied",
		"install: mkdir /var/lib/reachyd/apps/.staging/x1: no space left on device": "install: mkdir …/x1: no space left on device",
		`exec: "/usr/bin/python3": stat /usr/bin/python3: no such file`:             `exec: "…/python3": stat …/python3: no such file`,
		"rename /a/b /c/d: file exists":                                             "rename …/b …/d: file exists",
		"(/tmp/x) [/root/y]":                                                        "(…/x) […/y]",
		"serial port /dev/ttyACM0 not found":                                        "serial port /dev/ttyACM0 not found",
		"use POST /api/motors/set_mode/enabled first":                               "use POST /api/motors/set_mode/enabled first",
		"Process exited with code 1":                                                "Process exited with code 1",
		"and/or 3/4 of a/b":                                                         "and/or 3/4 of a/b",
		"path=/srv/secret/file.txt":                                                 "path=…/file.txt",
		"/":                                                                         "/",
		"https://huggingface.co/spaces/x/y: 404":                                    "https://huggingface.co/spaces/x/y: 404",
	} {
		if got := PublicText(in); got != want {
			t.Errorf("PublicText(%q) = %q, want %q", in, got, want)
		}
	}
}
