package moves

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"reachyd/actors/kit"
	"reachyd/hw/kinematics"
	"reachyd/messages"
)

// TestAnUploadSurvivesARestart: the upload store is kept in the cell, so an
// audio upload interrupted by a crash of the actor completes, and its file
// is stored (and remains known, to be deleted after playback or expiry).
func TestAnUploadSurvivesARestart(t *testing.T) {
	s := kit.NewSystem(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer s.Shutdown()
	dir := t.TempDir()
	// A parent that restarts it at once, every time; it answers once the
	// child is spawned.
	parent := kit.RootProps(kit.RootOptions{Children: []kit.Child{{Name: "moves", Props: Props(Options{UploadDir: dir, Geometry: kinematics.DefaultGeometry()})}}})
	ppid, err := s.Root.SpawnNamed(parent, "parent")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AskAny(context.Background(), ppid, &kit.TreeReady{}); err != nil {
		t.Fatal(err)
	}
	pid := s.PID("parent/moves")
	sync := func() {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			if _, err := s.AskAny(context.Background(), pid, &messages.ListMoves{}); err == nil {
				return
			} else if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sync()
	data := base64.StdEncoding.EncodeToString([]byte("RIFF....WAVEfmt "))
	half := len(data) / 2
	s.Tell(pid, &messages.Upload{Type: "upload_audio_start", UploadID: "a1", TotalChunks: 2, Encoding: "wav"})
	s.Tell(pid, &messages.Upload{Type: "upload_audio_chunk", UploadID: "a1", ChunkIndex: 0, Chunk: data[:half]})
	s.Tell(pid, &kit.Crash{Reason: "test"})
	sync()
	s.Tell(pid, &messages.Upload{Type: "upload_audio_chunk", UploadID: "a1", ChunkIndex: 1, Chunk: data[half:]})
	s.Tell(pid, &messages.Upload{Type: "upload_audio_finish", UploadID: "a1"})
	sync()
	if _, err := os.Stat(filepath.Join(dir, "a1.wav")); err != nil {
		t.Fatalf("the upload did not complete across the restart: %v", err)
	}
}
