package main

import (
	"errors"
	"testing"
	"time"

	"reachyd/hw/dynamixel"
	"reachyd/sim"
)

func TestSimBusReplyFaultCommands(t *testing.T) {
	s := &simBus{robot: sim.New(sim.Options{})}
	port, err := s.robot.Motors.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	c := dynamixel.NewClient(port, dynamixel.Config{Attempts: 1, Margin: 5 * time.Millisecond})
	for _, line := range []string{"drop stewart_2 2", "late 13 200"} {
		if out, err := s.command(line); err != nil || out != "ok" {
			t.Fatalf("%s: %q %v", line, out, err)
		}
	}
	for range 2 {
		if _, _, err := c.Ping(12); !errors.Is(err, dynamixel.ErrTimeout) {
			t.Fatalf("dropped reply: %v", err)
		}
	}
	if _, _, err := c.Ping(12); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Ping(13); !errors.Is(err, dynamixel.ErrTimeout) {
		t.Fatalf("late reply: %v", err)
	}
	for _, bad := range []string{"late 13", "late 13 -5", "drop 13 0", "drop nobody"} {
		if _, err := s.command(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
