package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"reachyd/actors/kit"
	"reachyd/actors/system"
)

// syncPeer collects replies from any goroutine.
type syncPeer struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (p *syncPeer) ID() string { return "fuzz" }
func (p *syncPeer) Send(b []byte) {
	p.mu.Lock()
	p.msgs = append(p.msgs, append([]byte(nil), b...))
	p.mu.Unlock()
}

// FuzzPeerCommand feeds arbitrary data-channel messages to PeerCommand on a
// gateway whose actors do not exist (every ask fails at once): it must not
// panic (a panic is answered "internal error"), and every reply must be one
// JSON object.
func FuzzPeerCommand(f *testing.F) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ks := kit.NewSystem(log)
	f.Cleanup(ks.Shutdown)
	sys := &system.System{Kit: ks, Daemon: ks.PID("none/daemon"), Hub: ks.PID("none/hub"), Jobs: ks.PID("none/jobs"),
		Moves: ks.PID("none/moves"), Motorbus: ks.PID("none/motorbus"), Lock: ks.PID("none/lock"), Apps: ks.PID("none/apps"),
		Topics: ks.PID("none/topics"), Media: ks.PID("none/media")}
	g := New(sys, Config{Log: log, AskTimeout: 50 * time.Millisecond, SoundsDir: "/tmp/sounds"})
	for _, s := range []string{
		`{"type":"set_target","head":[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1]}`,
		`{"type":"goto_target","antennas":[0.1,0.2],"duration":1}`,
		`{"type":"wake_up"}`, `{"type":"get_state"}`, `{"type":"set_volume","volume":5}`,
		`{"type":"play_sound","file":"/tmp/sounds/../x.wav"}`, `{"type":"apply_audio_config","config":[{"name":"a","values":[1e400]}]}`,
		`{"type":"read_audio_parameter","name":""}`, `{"type":"play_recorded_move","move_name":"x"}`,
		`{"type":"upload_move_chunk","upload_id":"a","chunk_index":-1,"chunk":""}`, `{"type":"set_torque","on":"yes","ids":[1]}`,
		`{"jsonrpc":"2.0","id":1.5,"method":"apps.status"}`, `{"jsonrpc":"2.0","id":[],"method":7}`, `{"jsonrpc":"2.0","id":"x","method":"apps.status","params":{}}`,
		`{"type":"subscribe_pose"}`, `{"type":`, `[]`, `null`, "\xff", `{"type":"set_speech_offsets","offsets":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &syncPeer{}
		g.PeerCommand(p, data)
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, m := range p.msgs {
			var v map[string]any
			if err := json.Unmarshal(m, &v); err != nil {
				t.Fatalf("reply to %q is not a JSON object: %s", data, m)
			}
			if string(m) == `{"error":"internal error"}` {
				t.Fatalf("%q made a handler panic", data)
			}
		}
	})
}

// FuzzSoundName: what soundName keeps is a plain file name at the end of
// the client's, or nothing.
func FuzzSoundName(f *testing.F) {
	for _, s := range []string{"a.wav", "../a.wav", `..\..\a.wav`, "..", ".", "", "a/", "x\x00.wav", "\u202e.wav"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := soundName(in)
		if out == "" {
			return
		}
		if strings.ContainsAny(out, `/\`) || out == "." || out == ".." || !strings.HasSuffix(in, out) ||
			!utf8.ValidString(out) || len(out) > 255 || strings.IndexFunc(out, unicode.IsControl) >= 0 {
			t.Fatalf("soundName(%q) = %q", in, out)
		}
	})
}
