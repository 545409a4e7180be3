package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"reachyd/hw"
	"reachyd/hw/dynamixel"
	"reachyd/hw/geom"
	"reachyd/hw/serialport"
	"reachyd/sim"
	"reachyd/sim/x330"
)

// ptyRobot is the simulated motors served on a pseudo-terminal behind a
// stable symlink, like the udev link of a real robot.
type ptyRobot struct {
	t     *testing.T
	robot *sim.Robot
	link  string
	stop  func() error
}

func newPTYRobot(t *testing.T, opts sim.Options) *ptyRobot {
	t.Helper()
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no pseudo-terminals here")
	}
	p := &ptyRobot{t: t, robot: sim.New(opts), link: filepath.Join(t.TempDir(), "reachy-mini")}
	p.plug()
	t.Cleanup(p.unplug)
	return p
}

func (p *ptyRobot) plug() {
	path, stop, err := x330.ServePTY(p.robot.Motors)
	if err != nil {
		p.t.Skipf("cannot serve a pseudo-terminal: %v", err)
	}
	_ = os.Remove(p.link)
	if err := os.Symlink(path, p.link); err != nil {
		p.t.Fatal(err)
	}
	p.stop = stop
}

// unplug is the USB cable pulled: the port fails and its path vanishes.
func (p *ptyRobot) unplug() {
	if p.stop != nil {
		_ = p.stop()
		p.stop = nil
	}
	_ = os.Remove(p.link)
}

type ikVector struct {
	Name      string             `json:"name"`
	PoseArgs  map[string]float64 `json:"pose_args"`
	BodyYawIn float64            `json:"body_yaw_in"`
	JointsRad []float64          `json:"joints_rad"`
	GoalRaw   []int32            `json:"goal_raw"`
}

func loadIKVectors(t *testing.T) []ikVector {
	f, err := os.Open("../../hw/kinematics/testdata/ik-vectors.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ikVector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v ikVector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func (v ikVector) pose() geom.Mat4 {
	a := v.PoseArgs
	d := math.Pi / 180
	return geom.PoseXYZRPY(a["x"]/1000, a["y"]/1000, a["z"]/1000, a["roll"]*d, a["pitch"]*d, a["yaw"]*d)
}

// goalTicks decodes the goal positions of the last sync write to address
// 116 for the head motors (IDs 10..16).
func goalTicks(r *sim.Robot) ([7]int32, bool) {
	var out [7]int32
	w := r.Motors.LastSyncWrite()
	if w.Addr != dynamixel.AddrGoalPosition || w.Len != 4 {
		return out, false
	}
	for i := 0; i < 7; i++ {
		d, ok := w.Data(hw.MotorIDs[i])
		if !ok {
			return out, false
		}
		out[i] = int32(binary.LittleEndian.Uint32(d))
	}
	return out, true
}

func waitGoal(t *testing.T, r *sim.Robot, want []int32, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	var got [7]int32
	for time.Now().Before(deadline) {
		var ok bool
		if got, ok = goalTicks(r); ok {
			match := true
			for i := range got {
				if got[i] != want[i] {
					match = false
				}
			}
			if match {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Errorf("%s: goal ticks on the wire %v, want %v", what, got, want)
}

// TestTargetsArriveAsGoalBytesOverTheSerialPort runs the daemon with
// --backend robot on a pseudo-terminal served by the simulated motors: the
// whole real path (port discovery by path, go.bug.st/serial at 1 Mbps, the
// Protocol 2.0 client, start-up sequence, control loop). Each IK vector of
// the spec, sent as a REST target and as an SDK set_target, must reach the
// motors as the spec's goal-position ticks, and the present positions must
// come back into the state.
func TestTargetsArriveAsGoalBytesOverTheSerialPort(t *testing.T) {
	p := newPTYRobot(t, sim.Options{})
	d := startDaemon(t, "--backend", "robot", "-p", p.link)
	d.waitRunning()
	var st map[string]any
	d.getJSON("/api/daemon/status", &st)
	if bs := st["backend_status"].(map[string]any); bs["ready"] != true || bs["control_loop_stats"] == nil {
		t.Fatalf("robot backend status: %v", bs)
	}
	c := d.dialSDK()
	c.waitFrame("head_pose", 5*time.Second, nil)
	for i, v := range loadIKVectors(t) {
		pose := v.pose()
		if i%2 == 0 {
			x, y, z, r, pi, yw := pose.XYZRPY()
			code, body := d.do("POST", "/api/move/set_target", map[string]any{
				"target_head_pose": map[string]any{"x": x, "y": y, "z": z, "roll": r, "pitch": pi, "yaw": yw},
				"target_body_yaw":  v.BodyYawIn})
			if code != 200 {
				t.Fatalf("%s: %d %s", v.Name, code, body)
			}
		} else {
			f := pose.Flat()
			c.send(map[string]any{"type": "set_full_target", "head": f[:], "body_yaw": v.BodyYawIn})
		}
		waitGoal(t, p.robot, v.GoalRaw, v.Name)

		// The present positions flow back into the state.
		deadline := time.Now().Add(2 * time.Second)
		var worst float64
		for time.Now().Before(deadline) {
			var full map[string]any
			d.getJSON("/api/state/full?with_head_joints=true", &full)
			worst = 0
			for j, x := range full["head_joints"].([]any) {
				worst = math.Max(worst, math.Abs(fnum(x)-dynamixel.TicksToRad(v.GoalRaw[j])))
			}
			if worst < 1e-9 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if worst >= 1e-9 {
			t.Errorf("%s: present head joints %.4g rad from the goal ticks", v.Name, worst)
		}
	}
}

func TestRobotBackendRefusesGravityAndPassesRawPackets(t *testing.T) {
	p := newPTYRobot(t, sim.Options{})
	d := startDaemon(t, "--backend", "robot", "-p", p.link, "--allow-raw-bus")
	d.waitRunning()
	code, body := d.do("POST", "/api/motors/set_mode/gravity_compensation", nil)
	if code != 400 || !strings.Contains(string(body), "cannot compute the head's gravity torques") {
		t.Fatalf("gravity compensation on the robot: %d %s", code, body)
	}
	var st map[string]any
	d.getJSON("/api/motors/status", &st)
	if st["mode"] != "enabled" {
		t.Fatalf("a refused mode changed the mode: %v", st["mode"])
	}
	// The raw passthrough: a ping of stewart_1 answers its status packet.
	ws, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/raw/write", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ping := dynamixel.AppendInstruction(nil, 11, dynamixel.InstPing, nil)
	if err := ws.WriteMessage(websocket.BinaryMessage, ping); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	typ, reply, err := ws.ReadMessage()
	if err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("raw reply: %v", err)
	}
	s, err := dynamixel.ParseStatus(reply)
	if err != nil || s.ID != 11 || s.Err != 0 || len(s.Params) != 3 || binary.LittleEndian.Uint16(s.Params) != 1200 {
		t.Fatalf("raw ping reply % X: %+v %v", reply, s, err)
	}
	// A packet to nobody gets an empty answer.
	_ = ws.WriteMessage(websocket.BinaryMessage, dynamixel.AppendInstruction(nil, 99, dynamixel.InstPing, nil))
	_, reply, err = ws.ReadMessage()
	if err != nil || len(reply) != 0 {
		t.Fatalf("raw write to a missing ID: % X %v", reply, err)
	}

	// Packets that could brick a motor never reach it: the connection ends
	// with 1008 and the reason, and the motor keeps its ID and baud rate.
	for name, pkt := range map[string][]byte{
		"factory reset": dynamixel.AppendInstruction(nil, 11, dynamixel.InstFactoryReset, dynamixel.AppendFactoryResetParams(nil, dynamixel.ResetAll)),
		"ID change":     dynamixel.AppendInstruction(nil, 11, dynamixel.InstWrite, dynamixel.AppendWriteParams(nil, dynamixel.AddrID, []byte{42})),
		"baud rate":     dynamixel.AppendInstruction(nil, dynamixel.BroadcastID, dynamixel.InstWrite, dynamixel.AppendWriteParams(nil, dynamixel.AddrBaudRate, []byte{0})),
	} {
		ws, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/raw/write", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = ws.WriteMessage(websocket.BinaryMessage, pkt)
		_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, _, err = ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "refused") {
			t.Errorf("%s: want a 1008 close saying it was refused, got %v", name, err)
		}
		ws.Close()
	}
	ws2, _, err := websocket.DefaultDialer.Dial(d.ws+"/api/move/ws/raw/write", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	_ = ws2.WriteMessage(websocket.BinaryMessage, dynamixel.AppendInstruction(nil, 11, dynamixel.InstRead, dynamixel.AppendReadParams(nil, dynamixel.AddrID, 2)))
	_ = ws2.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, reply, err = ws2.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if s, err := dynamixel.ParseStatus(reply); err != nil || s.ID != 11 || len(s.Params) != 2 || s.Params[0] != 11 || s.Params[1] != 3 {
		t.Fatalf("stewart_1 after the refused packets: ID and baud % X (%v), want 0B 03 (1 Mbps)", reply, err)
	}
}

func TestSimBusCommand(t *testing.T) {
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		t.Skip("no pseudo-terminals here")
	}
	link := filepath.Join(t.TempDir(), "sim")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runSimBus(ctx, []string{"--link", link, "--no-timing"}, inR, outW) }()
	defer func() {
		cancel()
		inW.Close()
		<-done
	}()
	lines := bufio.NewScanner(outR)
	next := func() string {
		if !lines.Scan() {
			t.Fatal("sim-bus said nothing")
		}
		return lines.Text()
	}
	if l := next(); !strings.Contains(l, "simulated Reachy Mini motors on /dev/pts/") {
		t.Fatalf("first line %q", l)
	}
	next()
	port, err := serialport.Open(link)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	c := dynamixel.NewClient(port, dynamixel.Config{Attempts: 1})
	if model, _, err := c.Ping(18); err != nil || model != 1190 {
		t.Fatalf("ping left_antenna through the pty: %v %v", model, err)
	}
	fmt.Fprintln(inW, "silence left_antenna")
	if l := next(); l != "ok" {
		t.Fatalf("silence: %q", l)
	}
	if _, _, err := c.Ping(18); err == nil {
		t.Fatal("a silenced motor answered")
	}
	fmt.Fprintln(inW, "error 13 overload")
	next()
	fmt.Fprintln(inW, "bogus")
	if l := next(); !strings.HasPrefix(l, "error: unknown command") {
		t.Fatalf("bogus command: %q", l)
	}
	fmt.Fprintln(inW, "status")
	var status []string
	for i := 0; i < 9; i++ {
		status = append(status, next())
	}
	if !strings.Contains(status[3], "stewart_3") || !strings.Contains(status[3], "Overload") || !strings.Contains(status[8], "alive false") {
		t.Fatalf("status:\n%s", strings.Join(status, "\n"))
	}
}
