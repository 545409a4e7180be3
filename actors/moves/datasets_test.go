package moves

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/actors/moves/motion"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

const nodMove = `{"description":"nod","time":[0,0.1],"set_target_data":[` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0,0]},` +
	`{"head":[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]],"antennas":[0.1,-0.1]}]}`

// A recorded move whose dataset is not on disk is loaded after the datasets
// actor made it available; what that actor answers otherwise is the move's
// answer.
func TestRecordedMoveAsksForAMissingDataset(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	dir := t.TempDir()
	var asked atomic.Int32
	// A stand-in datasets actor: "org/fetched" appears on disk when asked
	// for, "org/offline" cannot be had.
	ds, err := s.Root.SpawnNamed(actor.PropsFromFunc(func(c actor.Context) {
		m, ok := c.Message().(*messages.EnsureDataset)
		if !ok {
			return
		}
		asked.Add(1)
		if m.Dataset != "org/fetched" {
			c.Respond(&messages.Error{Kind: messages.KindUnavailable, Detail: "offline"})
			return
		}
		p := filepath.Join(dir, "org", "fetched")
		_ = os.MkdirAll(p, 0o755)
		_ = os.WriteFile(filepath.Join(p, "nod.json"), []byte(nodMove), 0o644)
		c.Respond(messages.DatasetReady{Dataset: m.Dataset, Path: p})
	}), "datasets")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := s.Root.SpawnNamed(Props(Options{Geometry: kinematics.DefaultGeometry(), Library: motion.Library{Dirs: []string{dir}},
		Datasets: ds, UploadDir: t.TempDir()}), "moves")
	if err != nil {
		t.Fatal(err)
	}
	start := func(dataset string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := kit.Ask[messages.MoveAccepted](ctx, s, pid, &messages.StartMove{ID: dataset, Kind: messages.MoveRecorded, Dataset: dataset, Move: "nod"})
		return err
	}
	// Loaded: the move then meets the absent backend (no motorbus here).
	if err := start("org/fetched"); !errorsIs(err, messages.ErrBackendNotRunning) {
		t.Errorf("fetched: %v", err)
	}
	if err := start("org/offline"); messages.KindOf(err) != messages.KindUnavailable || err.Error() != "offline" {
		t.Errorf("offline: %v", err)
	}
	// On disk now: not asked again.
	if err := start("org/fetched"); !errorsIs(err, messages.ErrBackendNotRunning) || asked.Load() != 2 {
		t.Errorf("again: %v, asked %d times", err, asked.Load())
	}
}

func errorsIs(err error, target *messages.Error) bool {
	e, ok := err.(*messages.Error)
	return ok && e.Is(target)
}
