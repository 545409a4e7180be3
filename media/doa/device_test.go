package doa

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"reachyd/messages"
)

// fakeBoard is a board's control endpoint: it keeps what is written per
// resource and command, answers StatusRetry a set number of times before
// each answer, and records every transfer.
type fakeBoard struct {
	mem      map[[2]uint16][]byte
	retries  int // per read
	left     int
	status   byte // answered instead of StatusOK, if not 0
	fail     error
	transfer []Setup
	// mangle, if set, changes what a write stores (a firmware that clamps).
	mangle func(resource, command uint16, payload []byte) []byte
	closed bool
}

func newFakeBoard() *fakeBoard { return &fakeBoard{mem: map[[2]uint16][]byte{}} }

func (f *fakeBoard) control(s Setup, data []byte, timeout time.Duration) (int, error) {
	f.transfer = append(f.transfer, s)
	if f.fail != nil {
		return 0, f.fail
	}
	if timeout <= 0 || int(s.Length) != len(data) {
		return 0, errors.New("bad transfer")
	}
	if s.RequestType == requestTypeOut {
		p := append([]byte(nil), data...)
		if f.mangle != nil {
			p = f.mangle(s.Index, s.Value, p)
		}
		f.mem[[2]uint16{s.Index, s.Value}] = p
		return len(data), nil
	}
	if s.RequestType != requestTypeIn || s.Value&readFlag == 0 {
		return 0, errors.New("bad request type")
	}
	if f.left > 0 {
		f.left--
		data[0] = StatusRetry
		return 1, nil
	}
	f.left = f.retries
	if f.status != 0 {
		data[0] = f.status
		return 1, nil
	}
	data[0] = StatusOK
	n := copy(data[1:], f.mem[[2]uint16{s.Index, s.Value &^ readFlag}])
	for i := 1 + n; i < len(data); i++ {
		data[i] = 0
	}
	return len(data), nil
}

func (f *fakeBoard) close() error { f.closed = true; return nil }

func testDevice(f *fakeBoard) (*Device, *[]time.Duration) {
	d := newDevice(f, Info{ID: BoardID})
	var slept []time.Duration
	d.sleep = func(d time.Duration) { slept = append(slept, d) }
	return d, &slept
}

func TestReadDoAWithRetries(t *testing.T) {
	f := newFakeBoard()
	f.mem[[2]uint16{20, 19}] = f32(2.5, 1)
	f.retries, f.left = 3, 3
	d, slept := testDevice(f)
	got, err := d.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got != (messages.DoA{Valid: true, Angle: 2.5, SpeechDetected: true}) {
		t.Fatalf("DoA %+v", got)
	}
	if len(f.transfer) != 4 || len(*slept) != 3 || (*slept)[0] != RetryPause {
		t.Fatalf("%d transfers, slept %v", len(f.transfer), *slept)
	}
	for _, s := range f.transfer {
		if s != ReadRequest(Params["DOA_VALUE_RADIANS"]) {
			t.Fatalf("transfer %+v", s)
		}
	}
	f.mem[[2]uint16{20, 19}] = f32(0.1, 0)
	f.retries, f.left = 0, 0
	if got, _ := d.Read(); got.SpeechDetected || math.Abs(got.Angle-0.1) > 1e-6 {
		t.Fatalf("DoA %+v", got)
	}
}

func TestReadGivesUp(t *testing.T) {
	f := newFakeBoard()
	f.left = 1 << 30
	d, _ := testDevice(f)
	if _, err := d.ReadParameter("PP_MIN_NS"); err == nil || !strings.Contains(err.Error(), "100 attempts") {
		t.Fatalf("endless retries: %v", err)
	}
	if len(f.transfer) != MaxAttempts {
		t.Fatalf("%d transfers", len(f.transfer))
	}
	f.left, f.status = 0, 3
	if _, err := d.ReadParameter("PP_MIN_NS"); err == nil || !strings.Contains(err.Error(), "unknown status code: 3") {
		t.Fatalf("bad status: %v", err)
	}
	f.status, f.fail = 0, errors.New("no such device")
	if _, err := d.Read(); err == nil || !strings.Contains(err.Error(), "no such device") {
		t.Fatalf("transfer failure: %v", err)
	}
	if err := d.Close(); err != nil || !f.closed {
		t.Fatal("not closed")
	}
}

func TestUnreadable(t *testing.T) {
	d, _ := testDevice(newFakeBoard())
	for _, name := range []string{"NOPE", "REBOOT", "BLD_MSG"} {
		_, err := d.ReadParameter(name)
		var me *messages.Error
		if !errors.As(err, &me) || me.Kind != messages.KindNotFound || me.Detail != "Parameter '"+name+"' could not be read" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := d.ReadText("PP_MIN_NS"); messages.KindOf(err) != messages.KindNotFound {
		t.Errorf("ReadText of a number: %v", err)
	}
}

func TestReadText(t *testing.T) {
	f := newFakeBoard()
	f.mem[[2]uint16{48, 2}] = []byte("builder\x00")
	d, _ := testDevice(f)
	if s, err := d.ReadText("BLD_HOST"); s != "builder" || err != nil {
		t.Fatalf("%q %v", s, err)
	}
}

func TestWriteParameter(t *testing.T) {
	f := newFakeBoard()
	d, _ := testDevice(f)
	if err := d.WriteParameter("AUDIO_MGR_OP_L", []float64{3, 0}); err != nil {
		t.Fatal(err)
	}
	if v, err := d.ReadParameter("AUDIO_MGR_OP_L"); err != nil || v[0] != 3 || v[1] != 0 {
		t.Fatalf("read back %v %v", v, err)
	}
	if err := d.WriteParameter("DOA_VALUE_RADIANS", []float64{1, 1}); err == nil || err.Error() != "DOA_VALUE_RADIANS is read-only" {
		t.Errorf("read-only: %v", err)
	}
	if err := d.WriteParameter("NOPE", []float64{1}); !errors.Is(err, ErrUnknownParameter) {
		t.Errorf("unknown: %v", err)
	}
	if err := d.WriteParameter("PP_MIN_NS", []float64{1, 2}); err == nil {
		t.Error("wrong count written")
	}
	if len(f.transfer) != 2 {
		t.Errorf("%d transfers: refused writes reached the board", len(f.transfer))
	}
}

func TestApply(t *testing.T) {
	f := newFakeBoard()
	// The firmware caps PP_AGCMAXGAIN at 10.
	f.mangle = func(resource, command uint16, p []byte) []byte {
		if resource == 17 && command == 11 {
			return f32(10)
		}
		return p
	}
	d, slept := testDevice(f)
	ok, failures := d.Apply([]messages.AudioParam{
		{Name: "PP_MIN_NS", Values: []float64{0.15}},
		{Name: "AUDIO_MGR_OP_L", Values: []float64{3, 0}},
	}, true)
	if !ok || failures != nil {
		t.Fatalf("apply: %v %v", ok, failures)
	}
	if len(*slept) != 2 || (*slept)[0] != SettleTime {
		t.Errorf("slept %v", *slept)
	}
	if len(f.transfer) != 4 {
		t.Errorf("%d transfers, want two writes and two reads", len(f.transfer))
	}
	ok, failures = d.Apply([]messages.AudioParam{
		{Name: "NOPE", Values: []float64{1}},
		{Name: "PP_AGCMAXGAIN", Values: []float64{30}},
		{Name: "PP_MIN_NN", Values: []float64{0.5}},
	}, true)
	if ok || len(failures) != 2 {
		t.Fatalf("apply: %v %v", ok, failures)
	}
	if v, _ := d.ReadParameter("PP_MIN_NN"); v[0] != 0.5 {
		t.Error("a failure stopped the parameters after it")
	}
	// Without verification the capped value goes unnoticed, as in the
	// reference.
	n := len(f.transfer)
	ok, failures = d.Apply([]messages.AudioParam{{Name: "PP_AGCMAXGAIN", Values: []float64{30}}}, false)
	if !ok || failures != nil || len(f.transfer) != n+1 {
		t.Fatalf("unverified apply: %v %v, %d transfers", ok, failures, len(f.transfer)-n)
	}
}

func writeAttrs(t *testing.T, dir string, attrs map[string]string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, v := range attrs {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	devs := filepath.Join(root, "bus", "usb", "devices")
	if _, err := Find(root); err != ErrNoDevice {
		t.Fatalf("no sysfs: %v", err)
	}
	writeAttrs(t, filepath.Join(devs, "usb1"), map[string]string{"idVendor": "1d6b", "idProduct": "0002", "busnum": "1", "devnum": "1"})
	writeAttrs(t, filepath.Join(devs, "1-1"), map[string]string{"idVendor": "046d", "idProduct": "c52b", "busnum": "1", "devnum": "2"})
	writeAttrs(t, filepath.Join(devs, "1-1:1.0"), map[string]string{"idVendor": "38fb", "idProduct": "1001", "busnum": "9", "devnum": "9"})
	if _, err := Find(root); err != ErrNoDevice {
		t.Fatalf("no board: %v", err)
	}
	writeAttrs(t, filepath.Join(devs, "1-1.2"), map[string]string{"idVendor": "2886", "idProduct": "001a", "busnum": "1", "devnum": "5"})
	info, err := Find(root)
	if err != nil || !info.OldFirmware || info.Path != "/dev/bus/usb/001/005" || info.ID != OldBoardID {
		t.Fatalf("old board: %+v %v", info, err)
	}
	writeAttrs(t, filepath.Join(devs, "3-1"), map[string]string{"idVendor": "38FB", "idProduct": "1001", "busnum": "3", "devnum": "17"})
	info, err = Find(root)
	if err != nil || info.OldFirmware || info.Path != "/dev/bus/usb/003/017" || info.Bus != 3 || info.Dev != 17 {
		t.Fatalf("board: %+v %v", info, err)
	}
	// A device folder with a damaged attribute is skipped.
	writeAttrs(t, filepath.Join(devs, "0-1"), map[string]string{"idVendor": "38fb", "idProduct": "1001", "busnum": "x", "devnum": "1"})
	if info, err := Find(root); err != nil || info.Bus != 3 {
		t.Fatalf("after a damaged entry: %+v %v", info, err)
	}
}

func TestOpenMissingNode(t *testing.T) {
	_, err := Open(Info{Path: filepath.Join(t.TempDir(), "001")})
	if !errors.Is(err, ErrNoDevice) || messages.KindOf(err) != messages.KindUnavailable {
		t.Fatalf("Open of a missing node: %v", err)
	}
}

func TestSim(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	s := NewSim(func() time.Time { return now })
	at := func(d time.Duration) messages.DoA {
		now = start.Add(d)
		r, err := s.Read()
		if err != nil || !r.Valid {
			t.Fatalf("at %v: %+v %v", d, r, err)
		}
		return r
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if r := at(0); !near(r.Angle, math.Pi/2) || !r.SpeechDetected {
		t.Errorf("start: %+v", r)
	}
	if r := at(6 * time.Second); !near(r.Angle, math.Pi) || !r.SpeechDetected {
		t.Errorf("6 s: %+v", r)
	}
	if r := at(3500 * time.Millisecond); r.SpeechDetected {
		t.Errorf("3.5 s: %+v", r)
	}
	if r := at(18 * time.Second); !near(r.Angle, 0) {
		t.Errorf("18 s: %+v", r)
	}
	if r := at(SimSweep); !near(r.Angle, math.Pi/2) {
		t.Errorf("a sweep later: %+v", r)
	}
	// Slow: under 0.15 rad per 100 ms poll, never outside 0..pi.
	prev := at(0).Angle
	for d := 100 * time.Millisecond; d < 2*SimSweep; d += 100 * time.Millisecond {
		a := at(d).Angle
		if a < 0 || a > math.Pi || math.Abs(a-prev) > 0.15 {
			t.Fatalf("at %v: %.3f after %.3f", d, a, prev)
		}
		prev = a
	}
	// A clock that steps back reads as the start.
	if r := at(-time.Hour); !near(r.Angle, math.Pi/2) {
		t.Errorf("before the start: %+v", r)
	}
}
