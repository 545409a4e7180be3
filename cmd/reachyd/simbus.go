package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"reachyd/hw"
	"reachyd/hw/dynamixel"
	"reachyd/sim"
	"reachyd/sim/x330"
)

const simBusHelp = `commands (one per line):
  silence <motor>            the motor stops answering
  revive <motor>             it answers again
  error <motor> <kind>       latch a hardware error: overload, overheating, voltage, shock, encoder
  voltage <volts>            supply voltage of every motor
  temperature <motor> <C>    a motor's temperature
  garbage <n>                n random bytes before the next reply
  corrupt <n>                corrupt the CRC of the next n replies
  drop <motor> [n]           lose the motor's next n replies (default 1)
  late <motor> <ms> [n]      the motor's next n replies arrive ms late (default 1)
  unplug | replug            the USB cable out / back in (a new pseudo-terminal behind --link)
  status                     every motor's state
<motor> is a name (stewart_3) or an ID (13).`

// simBus serves simulated motors on a pseudo-terminal, so that a daemon
// started with --backend robot -p <path> drives them through the real
// serial port code.
type simBus struct {
	robot *sim.Robot
	link  string
	out   io.Writer

	mu   sync.Mutex
	path string
	stop func() error
}

func runSimBus(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("reachyd sim-bus", flag.ContinueOnError)
	fs.SetOutput(out)
	link := fs.String("link", filepath.Join(os.TempDir(), "reachy-mini-sim"), "symlink to the pseudo-terminal (stable across unplug/replug)")
	factory := fs.Bool("factory", false, "motors with factory EEPROM (the daemon reflashes them)")
	mockup := fs.Bool("mockup", false, "goals applied at once")
	noTiming := fs.Bool("no-timing", false, "answer at once instead of at 1 Mbps")
	fs.Usage = func() {
		fmt.Fprintln(out, "usage: reachyd sim-bus [flags]")
		fs.PrintDefaults()
		fmt.Fprintln(out, simBusHelp)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := &simBus{robot: sim.New(sim.Options{Factory: *factory, Mockup: *mockup, Timing: !*noTiming}), link: *link, out: out}
	if err := s.serve(); err != nil {
		return err
	}
	defer s.unplug()
	fmt.Fprintf(out, "sim-bus: simulated Reachy Mini motors on %s (linked as %s)\n", s.path, s.link)
	fmt.Fprintf(out, "sim-bus: run  reachyd --backend robot -p %s\n", s.link)

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				<-ctx.Done() // stdin closed: keep serving until stopped
				return nil
			}
			if msg, err := s.command(line); err != nil {
				fmt.Fprintln(out, "error:", err)
			} else if msg != "" {
				fmt.Fprintln(out, msg)
			}
		}
	}
}

func (s *simBus) serve() error {
	path, stop, err := x330.ServePTY(s.robot.Motors)
	if err != nil {
		return fmt.Errorf("cannot open a pseudo-terminal: %w", err)
	}
	s.mu.Lock()
	s.path, s.stop = path, stop
	s.mu.Unlock()
	if s.link != "" {
		_ = os.Remove(s.link)
		if err := os.Symlink(path, s.link); err != nil {
			return fmt.Errorf("link %s: %w", s.link, err)
		}
	}
	return nil
}

// unplug stops serving: the daemon's port fails as when a USB serial
// adapter vanishes, and the path disappears.
func (s *simBus) unplug() {
	s.mu.Lock()
	stop := s.stop
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		_ = stop()
	}
	if s.link != "" {
		_ = os.Remove(s.link)
	}
}

func motorID(arg string) (byte, error) {
	if i := hw.MotorIndex(arg); i >= 0 {
		return hw.MotorIDs[i], nil
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 || n > 252 {
		return 0, fmt.Errorf("unknown motor %q", arg)
	}
	return byte(n), nil
}

var errorKinds = map[string]dynamixel.HardwareError{
	"voltage": dynamixel.HWInputVoltage, "overheating": dynamixel.HWOverheating, "encoder": dynamixel.HWMotorEncoder,
	"shock": dynamixel.HWElectricalShock, "overload": dynamixel.HWOverload,
}

// command runs one fault-injection line.
func (s *simBus) command(line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", nil
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	m := s.robot.Motors
	switch f[0] {
	case "help":
		return simBusHelp, nil
	case "silence", "revive":
		id, err := motorID(arg(1))
		if err != nil {
			return "", err
		}
		if !m.SetAlive(id, f[0] == "revive") {
			return "", fmt.Errorf("no motor %d", id)
		}
	case "error":
		id, err := motorID(arg(1))
		if err != nil {
			return "", err
		}
		kind, ok := errorKinds[arg(2)]
		if !ok {
			return "", fmt.Errorf("unknown error kind %q", arg(2))
		}
		m.InjectHardwareError(id, kind)
	case "voltage":
		v, err := strconv.ParseFloat(arg(1), 64)
		if err != nil {
			return "", err
		}
		m.SetVoltage(v)
	case "temperature":
		id, err := motorID(arg(1))
		if err != nil {
			return "", err
		}
		c, err := strconv.Atoi(arg(2))
		if err != nil {
			return "", err
		}
		m.SetTemperature(id, c)
	case "garbage", "corrupt":
		n, err := strconv.Atoi(arg(1))
		if err != nil {
			return "", err
		}
		if f[0] == "garbage" {
			m.InjectGarbage(n)
		} else {
			m.CorruptNext(n)
		}
	case "drop", "late":
		id, err := motorID(arg(1))
		if err != nil {
			return "", err
		}
		rf := x330.ReplyFault{ID: id, Count: 1, Drop: f[0] == "drop"}
		count := arg(2)
		if !rf.Drop {
			ms, err := strconv.Atoi(arg(2))
			if err != nil || ms <= 0 {
				return "", fmt.Errorf("late needs a delay in ms, got %q", arg(2))
			}
			rf.Delay, count = time.Duration(ms)*time.Millisecond, arg(3)
		}
		if count != "" {
			if rf.Count, err = strconv.Atoi(count); err != nil || rf.Count <= 0 {
				return "", fmt.Errorf("bad count %q", count)
			}
		}
		m.InjectReplyFault(rf)
	case "unplug":
		s.unplug()
	case "replug":
		s.mu.Lock()
		serving := s.stop != nil
		s.mu.Unlock()
		if serving {
			return "", errors.New("already plugged")
		}
		if err := s.serve(); err != nil {
			return "", err
		}
		return "replugged on " + s.path, nil
	case "status":
		var b strings.Builder
		for _, c := range x330.ReachyMini {
			st, _ := m.Snapshot(c.ID)
			fmt.Fprintf(&b, "%-13s id %d alive %-5v torque %-5v mode %d present %4d goal %4d error [%v] %.1f V %d C\n",
				c.Name, st.ID, st.Alive, st.Torque, st.Mode, st.Present, st.Goal, st.HardwareError, st.Voltage, st.Temperature)
		}
		return strings.TrimRight(b.String(), "\n"), nil
	default:
		return "", fmt.Errorf("unknown command %q (try help)", f[0])
	}
	return "ok", nil
}
