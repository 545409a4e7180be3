package gateway

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/actors/kit"
	"reachyd/messages"
)

// fakePeer records what PeerCommand sends it.
type fakePeer struct {
	id   string
	ch   chan string
	mu   sync.Mutex
	pose []bool
}

func newPeer() *fakePeer { return &fakePeer{id: "peer-1", ch: make(chan string, 256)} }

func (p *fakePeer) ID() string { return p.id }
func (p *fakePeer) Send(b []byte) {
	p.ch <- string(b)
}
func (p *fakePeer) SubscribePose(on bool) {
	p.mu.Lock()
	p.pose = append(p.pose, on)
	p.mu.Unlock()
}

// next returns the next reply, failing after a few seconds.
func (p *fakePeer) next(t *testing.T) string {
	t.Helper()
	select {
	case m := <-p.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no reply")
		return ""
	}
}

// call sends a command and checks the reply that comes next.
func (tg *testGW) call(p *fakePeer, frame, want string) {
	tg.t.Helper()
	tg.g.PeerCommand(p, []byte(frame))
	if got := p.next(tg.t); got != want {
		tg.t.Errorf("%s\n got  %s\n want %s", frame, got, want)
	}
}

// callJSON sends a command and decodes the reply.
func (tg *testGW) callJSON(p *fakePeer, frame string) map[string]any {
	tg.t.Helper()
	tg.g.PeerCommand(p, []byte(frame))
	got := p.next(tg.t)
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		tg.t.Fatalf("%s: reply is not a JSON object: %s", frame, got)
	}
	return v
}

// noReply checks that a command is not answered: PeerCommand runs a
// command before it returns, so the next reply must be get_version's.
func (tg *testGW) noReply(p *fakePeer, frame string) {
	tg.t.Helper()
	tg.g.PeerCommand(p, []byte(frame))
	tg.call(p, `{"type":"get_version"}`, `{"version":"test"}`)
}

const identity = `[1,0,0,0,0,1,0,0,0,0,1,0,0,0,0,1]`

func TestPeerSetterReplies(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	p := newPeer()
	ok := func(cmd string) string { return `{"status":"ok","command":"` + cmd + `"}` }
	tg.call(p, `{"type":"set_target","head":`+identity+`}`, ok("set_target"))
	tg.call(p, `{"type":"set_head_joints","joints":[0,0,0,0,0,0,0]}`, ok("set_head_joints"))
	tg.call(p, `{"type":"set_body_yaw","body_yaw":0.1}`, ok("set_body_yaw"))
	tg.call(p, `{"type":"set_antennas","antennas":[0.1,-0.1]}`, ok("set_antennas"))
	tg.call(p, `{"type":"set_full_target","head":null,"antennas":[0,0],"body_yaw":null}`, ok("set_full_target"))
	tg.call(p, `{"type":"set_speech_offsets","offsets":[0,0,0,0,0,0]}`, ok("set_speech_offsets"))
	tg.call(p, `{"type":"set_speech_offsets","offsets":[1,2]}`, ok("set_speech_offsets")) // ignored, acked
	tg.call(p, `{"type":"set_automatic_body_yaw","enabled":true}`, ok("set_automatic_body_yaw"))
	tg.call(p, `{"type":"set_torque","on":true,"ids":["right_antenna"]}`, ok("set_torque"))
	tg.call(p, `{"type":"set_torque","on":true}`, ok("set_torque"))
	tg.call(p, `{"type":"set_gravity_compensation","enabled":false}`, ok("set_gravity_compensation"))
	tg.call(p, `{"type":"set_motor_mode","mode":"enabled"}`, `{"motor_mode":"enabled","status":"ok"}`)
	tg.call(p, `{"type":"get_motor_mode"}`, `{"motor_mode":"enabled"}`)
	tg.call(p, `{"type":"start_recording"}`, `{"status":"ok","command":"start_recording","is_recording":true}`)
	tg.call(p, `{"type":"append_record","record":{"t":1}}`, ok("append_record"))
	tg.call(p, `{"type":"stop_recording"}`, `{"status":"ok","command":"stop_recording","is_recording":false}`)

	// Errors raised while running a valid command: {"error": ...}.
	tg.call(p, `{"type":"set_motor_mode","mode":"turbo"}`, `{"error":"'turbo' is not a valid MotorControlMode"}`)
	tg.call(p, `{"type":"set_head_joints","joints":[0,0,0]}`, `{"error":"joints must have 7 numbers, got 3"}`)
	tg.call(p, `{"type":"set_target","head":[1,2,3]}`, `{"error":"head must have 16 numbers (a row-major 4x4 matrix), got 3"}`)
	tg.call(p, `{"type":"set_torque","on":true,"ids":["nose"]}`, `{"error":"unknown motor \"nose\" (motors: [body_rotation stewart_1 stewart_2 stewart_3 stewart_4 stewart_5 stewart_6 right_antenna left_antenna])"}`)

	// Media commands, answered by the media actor.
	tg.call(p, `{"type":"play_sound","file":"wake_up.wav"}`, ok("play_sound"))
	if m := wait[*messages.PlaySound](t, tg.media); m.File != "wake_up.wav" {
		t.Errorf("play_sound sent %+v", m)
	}
	tg.call(p, `{"type":"play_sound","file":"/etc/passwd"}`,
		`{"error":"Playing a file by its path is only allowed over the daemon's unix socket; upload the sound (POST /api/media/sounds/upload) and play it by name"}`)
	tg.call(p, `{"type":"clear_incoming_audio"}`, ok("clear_incoming_audio"))
	wait[*messages.ClearIncomingAudio](t, tg.media)
	tg.call(p, `{"type":"set_wobbling","enabled":true}`, ok("set_wobbling"))
	if m := wait[*messages.SetWobbling](t, tg.media); !m.On {
		t.Error("set_wobbling sent On=false")
	}
	tg.call(p, `{"type":"set_head_tracking","enabled":true,"weight":0.5}`, `{"status":"unavailable","command":"set_head_tracking","enabled":false}`)
	tg.call(p, `{"type":"set_head_tracking","enabled":false}`, `{"status":"ok","command":"set_head_tracking","enabled":false}`)
	tg.call(p, `{"type":"get_tracked_face"}`, `{"command":"get_tracked_face","face_target":{"detected":false,"x":null,"y":null,"roll":null,"ts":null}}`)

	// Volume.
	tg.call(p, `{"type":"set_volume","volume":30}`, `{"status":"ok","command":"set_volume","volume":30}`)
	if m := lastOf[*messages.SetVolume](tg.media); m.TestSound || m.Microphone || m.Volume != 30 {
		t.Errorf("set_volume sent %+v", m)
	}
	tg.call(p, `{"type":"get_volume"}`, `{"command":"get_volume","volume":30}`)
	tg.call(p, `{"type":"set_microphone_volume","volume":80}`, `{"status":"ok","command":"set_microphone_volume","volume":80}`)
	tg.call(p, `{"type":"get_microphone_volume"}`, `{"command":"get_microphone_volume","volume":80}`)
	tg.media.set(func(f *fakeMedia) { f.failSet = true })
	tg.call(p, `{"type":"set_volume","volume":31}`, `{"status":"error","command":"set_volume","volume":30}`)
	tg.media.set(func(f *fakeMedia) { f.noMixer = true })
	tg.call(p, `{"type":"get_volume"}`, `{"error":"Volume control unavailable: no mixer found","command":"get_volume"}`)
	tg.call(p, `{"type":"set_volume","volume":31}`, `{"error":"Volume control unavailable: no mixer found","command":"set_volume"}`)

	// Audio board.
	tg.call(p, `{"type":"apply_audio_config","config":[{"name":"A","values":[1,2]}]}`, `{"status":"ok","command":"apply_audio_config","applied":true}`)
	tg.call(p, `{"type":"apply_audio_config","config":[]}`, `{"status":"error","command":"apply_audio_config","applied":false}`)
	tg.call(p, `{"type":"read_audio_parameter","name":"AEC_AZIMUTH_VALUES"}`, `{"command":"read_audio_parameter","name":"AEC_AZIMUTH_VALUES","values":[0.5,1.0,-2.25]}`)
	tg.call(p, `{"type":"read_audio_parameter","name":"NOPE"}`, `{"command":"read_audio_parameter","name":"NOPE","values":null}`)
	tg.call(p, `{"type":"read_audio_parameter","name":"BROKEN"}`, `{"error":"Audio config command failed: usb transfer timed out","command":"read_audio_parameter"}`)
	tg.media.set(func(f *fakeMedia) { f.noBoard = true })
	tg.call(p, `{"type":"read_audio_parameter","name":"X"}`, `{"error":"ReSpeaker audio board not available","command":"read_audio_parameter"}`)
	tg.call(p, `{"type":"apply_audio_config","config":[]}`, `{"error":"ReSpeaker audio board not available","command":"apply_audio_config"}`)

	// Pose subscription: acked, and the peer told.
	tg.call(p, `{"type":"subscribe_pose"}`, ok("subscribe_pose"))
	tg.call(p, `{"type":"unsubscribe_pose"}`, ok("unsubscribe_pose"))
	p.mu.Lock()
	if len(p.pose) != 2 || !p.pose[0] || p.pose[1] {
		t.Errorf("SubscribePose calls: %v", p.pose)
	}
	p.mu.Unlock()
}

func TestPeerGetters(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	p := newPeer()
	tg.call(p, `{"type":"get_version"}`, `{"version":"test"}`)
	tg.call(p, `{"type":"get_hardware_id"}`, `{"hardware_id":null}`)
	tg.call(p, `{"type":"get_imu"}`, `{"command":"get_imu","imu":null}`)
	tg.call(p, `{"type":"get_robot_name"}`, `{"command":"get_robot_name","name":"reachy_mini"}`)
	tg.call(p, `{"type":"set_robot_name","name":"  mini  "}`, `{"command":"set_robot_name","status":"ok","name":"mini"}`)
	tg.call(p, `{"type":"set_robot_name","name":"   "}`, `{"command":"set_robot_name","status":"error","name":"mini"}`)
	tg.call(p, `{"type":"get_first_wake_up"}`, `{"command":"get_first_wake_up","is_completed":false}`)
	tg.call(p, `{"type":"set_first_wake_up"}`, `{"command":"set_first_wake_up","status":"ok","is_completed":true}`)
	tg.call(p, `{"type":"get_first_wake_up"}`, `{"command":"get_first_wake_up","is_completed":true}`)
	tg.call(p, `{"type":"delete_hf_token"}`, `{"command":"delete_hf_token","status":"ok"}`)
	tg.call(p, `{"type":"start_update","pre_release":true}`, `{"error":"start_update is only supported on Reachy Mini Wireless","command":"start_update"}`)
	tg.call(p, `{"type":"subscribe_logs"}`,
		`{"type":"log_stream_error","error":"log streaming is not available in this daemon"}`)
	tg.noReply(p, `{"type":"unsubscribe_logs"}`)

	// get_state: the reference's StateSnapshot.
	st := tg.callJSON(p, `{"type":"get_state"}`)
	s, ok := st["state"].(map[string]any)
	if !ok || len(st) != 1 {
		t.Fatalf("get_state: %v", st)
	}
	hp, _ := s["head_pose"].([]any)
	if len(hp) != 4 || len(hp[0].([]any)) != 4 {
		t.Errorf("head_pose: %v", s["head_pose"])
	}
	if a, _ := s["antennas"].([]any); len(a) != 2 {
		t.Errorf("antennas: %v", s["antennas"])
	}
	if j, _ := s["head_joint_positions"].([]any); len(j) != 7 || j[0] != s["body_yaw"] {
		t.Errorf("head_joint_positions %v, body_yaw %v", s["head_joint_positions"], s["body_yaw"])
	}
	if s["motor_mode"] != "enabled" || s["is_recording"] != false || s["is_move_running"] != false {
		t.Errorf("state: %v", s)
	}
	if d, _ := s["doa"].(map[string]any); d["angle"] != 1.5 || d["speech_detected"] != true {
		t.Errorf("doa: %v", s["doa"])
	}
	if f, _ := s["face_target"].(map[string]any); f["detected"] != false || len(f) != 5 {
		t.Errorf("face_target: %v", s["face_target"])
	}
	if len(s) != 9 {
		t.Errorf("StateSnapshot has %d fields: %v", len(s), s)
	}
}

// writeDataset makes a datasets folder with one short recorded move.
func writeDataset(t *testing.T) string {
	dir := t.TempDir()
	ds := filepath.Join(dir, "test-org", "moves")
	if err := os.MkdirAll(ds, 0o755); err != nil {
		t.Fatal(err)
	}
	id := [][]float64{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
	move := map[string]any{"description": "a nod", "time": []float64{0, 0.2},
		"set_target_data": []any{
			map[string]any{"head": id, "antennas": []float64{0, 0}},
			map[string]any{"head": id, "antennas": []float64{0.1, -0.1}},
		}}
	b, _ := json.Marshal(move)
	if err := os.WriteFile(filepath.Join(ds, "nod.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Moves: the completion reply, refusals, stop_move, recorded moves.
func TestPeerMoves(t *testing.T) {
	dir := writeDataset(t)
	tg := startGW(t, gwOptions{media: true, autostart: true, datasets: dir})
	p := newPeer()
	done := func(cmd string) string { return `{"status":"ok","command":"` + cmd + `","completed":true}` }

	// goto_target is answered when the move has ended: by then the head
	// is at the target.
	tg.g.PeerCommand(p, []byte(`{"type":"goto_target","antennas":[0.3,-0.3],"duration":0.3}`))
	if got := p.next(t); got != done("goto_target") {
		t.Fatalf("goto_target: %s", got)
	}
	st, err := kit.Ask[*messages.RobotState](context.Background(), tg.sys.Kit, tg.sys.Hub, &messages.GetState{})
	if err != nil || st.MoveRunning || st.Antennas[0] < 0.29 {
		t.Errorf("after the completion reply: running %v antennas %v (%v)", st.MoveRunning, st.Antennas, err)
	}
	// Refused by moves: the error, with the command.
	got := tg.callJSON(p, `{"type":"goto_target","antennas":[100,0],"duration":0.3}`)
	if got["command"] != "goto_target" || !strings.Contains(got["error"].(string), "antenna") || len(got) != 2 {
		t.Errorf("out of range goto: %v", got)
	}
	// Another move running: the reference's play_move returns, so the goto
	// is "completed" as soon as it is refused; the long one is stopped by
	// stop_move and ends "completed" too.
	tg.g.PeerCommand(p, []byte(`{"type":"goto_target","antennas":[0,0],"duration":30}`))
	waitMoving(t, tg)
	tg.call(p, `{"type":"goto_target","antennas":[0.1,0],"duration":0.2}`, done("goto_target"))
	// The stop's reply and the stopped goto's come in either order.
	tg.g.PeerCommand(p, []byte(`{"type":"stop_move"}`))
	two := map[string]bool{p.next(t): true, p.next(t): true}
	if !two[`{"status":"ok","command":"stop_move","stopped":true}`] || !two[done("goto_target")] {
		t.Errorf("stop_move during a goto: %v", two)
	}
	tg.call(p, `{"type":"stop_move"}`, `{"status":"ok","command":"stop_move","stopped":false,"info":"no active move"}`)

	tg.call(p, `{"type":"wake_up"}`, done("wake_up"))
	tg.call(p, `{"type":"goto_sleep"}`, done("goto_sleep"))

	tg.call(p, `{"type":"play_recorded_move","move_name":"nod","dataset_name":"test-org/moves"}`,
		`{"command":"play_recorded_move","status":"ok","move_name":"nod"}`)
	got = tg.callJSON(p, `{"type":"play_recorded_move","move_name":"nope","dataset_name":"test-org/moves"}`)
	if got["command"] != "play_recorded_move" || got["status"] != "error" || got["error"] == "" {
		t.Errorf("unknown recorded move: %v", got)
	}
	// The dataset's folder, as the reference answers with its snapshot.
	tg.call(p, `{"type":"preload_dataset","dataset_name":"test-org/moves"}`,
		`{"command":"preload_dataset","status":"ok","dataset_name":"test-org/moves","local_path":"`+filepath.Join(dir, "test-org", "moves")+`"}`)
	tg.call(p, `{"type":"preload_dataset","dataset_name":"someone/else"}`,
		`{"command":"preload_dataset","status":"error","dataset_name":"someone/else","error":"download failed (see daemon logs)"}`)
}

func waitMoving(t *testing.T, tg *testGW) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, err := kit.Ask[*messages.RobotState](context.Background(), tg.sys.Kit, tg.sys.Hub, &messages.GetState{})
		if err == nil && st.MoveRunning {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the move did not start")
}

func TestPeerInvalidFrames(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	p := newPeer()
	for frame, want := range map[string]string{
		`not json`:                           `{"error":"Invalid command: Invalid JSON: Expecting value"}`,
		`[1,2]`:                              `{"error":"Invalid command: Input should be a valid dictionary or object to extract fields from"}`,
		`{"head":[]}`:                        `{"error":"Invalid command: Unable to extract tag using discriminator 'type'"}`,
		`{"type":"fly"}`:                     `{"error":"Invalid command: Input tag 'fly' found using 'type' does not match any of the expected tags"}`,
		`{"type":"task","uuid":"x"}`:         `{"error":"Invalid command: Input tag 'task' found using 'type' does not match any of the expected tags"}`,
		`{"type":"set_body_yaw"}`:            `{"error":"Invalid command: set_body_yaw: body_yaw: Field required"}`,
		`{"type":"set_volume","volume":101}`: `{"error":"Invalid command: set_volume: volume: Input should be less than or equal to 100"}`,
		`{"type":"set_head_tracking","enabled":true,"weight":1.5}`: `{"error":"Invalid command: set_head_tracking: weight: Input should be less than or equal to 1"}`,
		`{"type":"set_body_yaw","body_yaw":"x"}`:                   `{"error":"Invalid command: set_body_yaw: body_yaw: Input should be a valid number, unable to parse string as a number"}`,
		`{"type":"apply_audio_config","config":1}`:                 `{"error":"Invalid command: apply_audio_config: config: Input should be a valid list"}`,
	} {
		tg.call(p, frame, want)
	}
	// Upload commands are not answered (their results are broadcasts).
	tg.noReply(p, `{"type":"upload_audio_start","upload_id":"u1","total_chunks":1}`)
	tg.noReply(p, `{"type":"cancel_audio","upload_id":"u1"}`)
}

func TestPeerJSONRPC(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	p := newPeer()
	tg.call(p, `{"jsonrpc":"2.0","id":7,"method":"apps.status"}`, `{"jsonrpc":"2.0","id":7,"result":{"state":"idle","info":null,"error":null}}`)
	tg.call(p, `{"jsonrpc":"2.0","id":"a","method":"conversation.say","params":{"text":"hi"}}`,
		`{"jsonrpc":"2.0","id":"a","error":{"code":-32000,"message":"no app is running","data":{"reason":"not_running"}}}`)
	tg.call(p, `{"jsonrpc":"2.0","id":"b","method":"apps.frobnicate"}`,
		`{"jsonrpc":"2.0","id":"b","error":{"code":-32601,"message":"unknown method: apps.frobnicate","data":{"reason":"method_not_found"}}}`)
	tg.call(p, `{"jsonrpc":"2.0","id":"c","method":"apps.stop"}`,
		`{"jsonrpc":"2.0","id":"c","error":{"code":-32603,"message":"No app is currently running","data":{"reason":"internal_error"}}}`)
	tg.call(p, `{"jsonrpc":"2.0","id":"d","method":"apps.start","params":{}}`,
		`{"jsonrpc":"2.0","id":"d","error":{"code":-32602,"message":"apps.start requires a 'name'","data":{"reason":"invalid_params"}}}`)
	tg.call(p, `{"jsonrpc":"2.0","id":1}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: method must be a string","data":{"reason":"invalid_request"}}}`)
	tg.call(p, `{"jsonrpc":"2.0","id":1,"method":"apps.status","params":[1]}`,
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"invalid request: params must be an object","data":{"reason":"invalid_request"}}}`)
	// Notifications are never answered.
	tg.noReply(p, `{"jsonrpc":"2.0","method":"apps.status"}`)
	tg.noReply(p, `{"jsonrpc":"2.0","method":"conversation.say"}`)
}

func TestPeerWithoutMedia(t *testing.T) {
	tg := startGW(t, gwOptions{autostart: true})
	p := newPeer()
	const unavailable = "Volume control unavailable: the daemon runs without media (no_media)"
	tg.call(p, `{"type":"set_volume","volume":3}`, `{"error":"`+unavailable+`","command":"set_volume"}`)
	tg.call(p, `{"type":"get_volume"}`, `{"error":"`+unavailable+`","command":"get_volume"}`)
	tg.call(p, `{"type":"get_microphone_volume"}`, `{"error":"`+unavailable+`","command":"get_microphone_volume"}`)
	// As the reference without a media server: accepted, nothing happens.
	tg.call(p, `{"type":"play_sound","file":"wake_up.wav"}`, `{"status":"ok","command":"play_sound"}`)
	tg.call(p, `{"type":"clear_incoming_audio"}`, `{"status":"ok","command":"clear_incoming_audio"}`)
	tg.call(p, `{"type":"set_wobbling","enabled":false}`, `{"status":"ok","command":"set_wobbling"}`)
	tg.call(p, `{"type":"apply_audio_config","config":[]}`, `{"error":"ReSpeaker audio board not available","command":"apply_audio_config"}`)
	st := tg.callJSON(p, `{"type":"get_state"}`)
	if s := st["state"].(map[string]any); s["doa"] != nil {
		t.Errorf("doa without media: %v", s["doa"])
	}
}

// restart_daemon is acked before the daemon restarts.
func TestPeerRestartDaemon(t *testing.T) {
	tg := startGW(t, gwOptions{autostart: true})
	p := newPeer()
	tg.call(p, `{"type":"restart_daemon"}`, `{"status":"ok","command":"restart_daemon"}`)
	// The restart happens: the daemon goes through stopping and is running
	// again.
	deadline := time.Now().Add(10 * time.Second)
	restarted := false
	for time.Now().Before(deadline) && !restarted {
		st, err := kit.Ask[*messages.DaemonStatus](context.Background(), tg.sys.Kit, tg.sys.Daemon, &messages.GetDaemonStatus{})
		restarted = err == nil && st.State != messages.StateRunning
		time.Sleep(time.Millisecond)
	}
	if !restarted {
		t.Fatal("the daemon did not restart")
	}
	tg.waitRunning()
}

// Broadcasts (here play_uploaded_audio's error) reach Config.Broadcast.
func TestBroadcastsReachPeers(t *testing.T) {
	frames := make(chan string, 16)
	tg := startGW(t, gwOptions{autostart: true, broadcast: func(b []byte) { frames <- string(b) }})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { tg.g.ForwardBroadcasts(ctx); close(stopped) }()
	t.Cleanup(func() { cancel(); <-stopped })
	p := newPeer()
	deadline := time.After(10 * time.Second)
	for {
		// The forwarder subscribes in the background: ask until a frame
		// comes.
		tg.g.PeerCommand(p, []byte(`{"type":"play_uploaded_audio","upload_id":"nope"}`))
		select {
		case f := <-frames:
			if f != `{"type":"play_uploaded_audio","upload_id":"nope","error":"no such uploaded audio"}` {
				t.Fatalf("broadcast: %s", f)
			}
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no broadcast reached Config.Broadcast")
		}
	}
}

// /ws/sdk's media commands reach the media actor (no replies there).
func TestSDKSocketMediaCommands(t *testing.T) {
	tg := startGW(t, gwOptions{media: true, autostart: true})
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(tg.base, "http")+"/ws/sdk", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(s string) {
		if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"type":"play_sound","file":"a.wav"}`)
	if m := wait[*messages.PlaySound](t, tg.media); m.File != "a.wav" {
		t.Errorf("play_sound: %+v", m)
	}
	send(`{"type":"set_volume","volume":12}`)
	if m := wait[*messages.SetVolume](t, tg.media); m.Volume != 12 || m.Microphone || m.TestSound {
		t.Errorf("set_volume: %+v", m)
	}
	send(`{"type":"set_microphone_volume","volume":13}`)
	if m := wait[*messages.SetVolume](t, tg.media); m.Volume != 13 || !m.Microphone {
		t.Errorf("set_microphone_volume: %+v", m)
	}
	send(`{"type":"set_wobbling","enabled":true}`)
	if m := wait[*messages.SetWobbling](t, tg.media); !m.On {
		t.Errorf("set_wobbling: %+v", m)
	}
	send(`{"type":"clear_incoming_audio"}`)
	wait[*messages.ClearIncomingAudio](t, tg.media)
	send(`{"type":"apply_audio_config","config":[{"name":"A","values":[1]}]}`)
	wait[*messages.ApplyAudioConfig](t, tg.media)
	// A path outside the sounds folder never reaches it.
	send(`{"type":"play_sound","file":"/dev/watchdog"}`)
	send(`{"type":"play_sound","file":"b.wav"}`)
	if m := wait[*messages.PlaySound](t, tg.media); m.File != "b.wav" {
		t.Errorf("after a refused path: %+v", m)
	}
	// Nothing but state frames and daemon_status came back: a task whose
	// request does not validate is answered with task_progress, after
	// everything sent before it.
	send(`{"type":"task","uuid":"0b4d9c0e-7d4c-4a53-9d4b-2f1a0b6c1d2e","req":{"head":null,"antennas":null,"duration":"x","method":"minjerk","body_yaw":null},"timestamp":"2026-01-01T00:00:00"}`)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		_ = json.Unmarshal(data, &f)
		switch f["type"] {
		case "joint_positions", "head_pose", "daemon_status":
		case "task_progress":
			return
		default:
			t.Fatalf("unexpected frame on /ws/sdk: %s", data)
		}
	}
}
