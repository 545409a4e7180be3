package wire

import (
	"encoding/json"
	"testing"

	"reachyd/messages"
)

// The MuJoCo backend's status adds the seed's MujocoBackendStatus fields to
// backend_status; other backends' shape is unchanged.
func TestDaemonStatusSimFields(t *testing.T) {
	s := &messages.DaemonStatus{RobotName: "r", State: messages.DaemonState("running"), BackendKind: "mujoco",
		Backend: &messages.BackendStatus{Mode: "enabled"},
		Sim:     &messages.SimStatus{ModelLoaded: true, Model: "builtin", SimulationTime: 1.5, RealTimeFactor: 0.99}}
	var got struct {
		BackendStatus map[string]any `json:"backend_status"`
	}
	if err := json.Unmarshal(DaemonStatus(nil, s, FloatStyle(0)), &got); err != nil {
		t.Fatal(err)
	}
	b := got.BackendStatus
	if b["motor_control_mode"] != "enabled" || b["model_loaded"] != true || b["model"] != "builtin" ||
		b["simulation_time"] != 1.5 || b["real_time_factor"] != 0.99 {
		t.Errorf("backend_status %v", b)
	}
	s.Sim, s.BackendKind = nil, "sim"
	got.BackendStatus = nil
	if err := json.Unmarshal(DaemonStatus(nil, s, FloatStyle(0)), &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got.BackendStatus["model_loaded"]; ok || len(got.BackendStatus) != 2 {
		t.Errorf("sim backend_status %v", got.BackendStatus)
	}
}
