package moves

import (
	"os"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"reachyd/actors/kit"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// upload handles the SDK's upload commands. They are fire-and-forget, as
// in the reference: failures are logged and surface as an error broadcast
// when the client asks to play.
func (a *Actor) upload(ctx actor.Context, m *messages.Upload) {
	now := time.Now()
	for _, p := range a.uploads.ExpiredAudio(now) {
		_ = os.Remove(p)
	}
	var err error
	switch m.Type {
	case "upload_move_start":
		err = a.uploads.Start("move", m.UploadID, m.TotalChunks, m.Encoding, now)
	case "upload_move_chunk":
		err = a.uploads.Chunk("move", m.UploadID, m.ChunkIndex, m.Chunk, now)
	case "upload_move_finish":
		err = a.uploads.FinishMove(m.UploadID)
	case "upload_audio_start":
		err = a.uploads.Start("audio", m.UploadID, m.TotalChunks, m.Encoding, now)
	case "upload_audio_chunk":
		err = a.uploads.Chunk("audio", m.UploadID, m.ChunkIndex, m.Chunk, now)
	case "upload_audio_finish":
		err = a.storeAudio(m.UploadID, now)
	case "play_uploaded_move":
		a.playUploaded(ctx, m)
	case "cancel_move":
		fx, _ := a.core.Stop(m.UploadID)
		a.execute(ctx, fx)
	case "play_uploaded_audio":
		a.playUploadedAudio(ctx, m.UploadID)
	case "cancel_audio":
		if a.playingAudio != "" && a.playingAudio == m.UploadID && a.opt.Media != nil {
			ctx.Send(a.opt.Media, &messages.StopSound{})
			a.playingAudio = ""
		}
	}
	if err != nil {
		a.log.Warn(m.Type, "upload_id", m.UploadID, "err", err)
	}
}

func (a *Actor) uploadDir() string {
	if a.opt.UploadDir != "" {
		return a.opt.UploadDir
	}
	return filepath.Join(os.TempDir(), "reachy-mini-uploads", "audio")
}

func (a *Actor) storeAudio(id string, now time.Time) error {
	raw, ext, err := a.uploads.FinishAudio(id)
	if err != nil {
		return err
	}
	dir := a.uploadDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// The gateway only lets [A-Za-z0-9_-] ids through, so the name stays in
	// the folder.
	path := filepath.Join(dir, id+"."+ext)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	if old := a.uploads.AudioStored(id, path, now); old != "" {
		_ = os.Remove(old)
	}
	return nil
}

func (a *Actor) broadcast(ctx actor.Context, frame []byte) {
	if a.opt.Hub != nil {
		ctx.Send(a.opt.Hub, &messages.Broadcast{Stream: messages.StreamSDK, Frame: frame})
	}
}

func uploadFrame(typ, id string, fill func(o *wire.Obj)) []byte {
	o := wire.ObjStart(nil)
	o.String("type", typ)
	o.String("upload_id", id)
	fill(&o)
	return o.End()
}

func (a *Actor) playUploaded(ctx actor.Context, m *messages.Upload) {
	mv, audio, ok := a.uploads.TakeMove(m.UploadID)
	if !ok {
		if audio != "" {
			_ = os.Remove(audio)
		}
		a.broadcast(ctx, uploadFrame("play_uploaded_move", m.UploadID, func(o *wire.Obj) {
			o.String("error", "no such uploaded move (upload first)")
		}))
		return
	}
	rec := mv
	if audio != "" {
		rec = mv.WithSound(audio)
	}
	run := uploadRun{id: m.UploadID, audio: audio}
	fx, err := a.core.Start(StartRequest{
		ID: m.UploadID, Kind: messages.MoveRecorded, Origin: messages.OriginCommand,
		Recorded: rec, InitialGoto: m.InitialGoto, Notify: run, At: a.opt.Now(),
	})
	if err != nil {
		a.uploadEnded(ctx, run, messages.MoveDone{ID: m.UploadID, Result: messages.MoveFailed, Detail: err.Error()})
		return
	}
	if a.core.MoveRunning() && a.core.Running()[0] == m.UploadID {
		a.broadcast(ctx, uploadFrame("play_uploaded_move", m.UploadID, func(o *wire.Obj) {
			o.Bool("started", true)
			o.Float("duration_s", mv.Duration())
			o.Bool("has_audio", audio != "")
		}))
	}
	a.execute(ctx, fx)
}

// uploadEnded broadcasts the end of an uploaded move and deletes its audio.
func (a *Actor) uploadEnded(ctx actor.Context, run uploadRun, d messages.MoveDone) {
	if run.audio != "" {
		_ = os.Remove(run.audio)
	}
	a.broadcast(ctx, uploadFrame("play_uploaded_move", run.id, func(o *wire.Obj) {
		o.Bool("has_audio", run.audio != "")
		switch d.Result {
		case messages.MoveCompleted:
			o.Bool("finished", true)
		case messages.MoveCancelled:
			o.Bool("cancelled", true)
		default:
			o.String("error", d.Detail)
		}
	}))
}

func (a *Actor) playUploadedAudio(ctx actor.Context, id string) {
	if _, ok := a.uploads.Audio(id); !ok {
		a.broadcast(ctx, uploadFrame("play_uploaded_audio", id, func(o *wire.Obj) {
			o.String("error", "no such uploaded audio")
		}))
		return
	}
	// As the reference: started first, then the playback's own error.
	a.broadcast(ctx, uploadFrame("play_uploaded_audio", id, func(o *wire.Obj) { o.Bool("started", true) }))
	fail := func(why string) {
		a.broadcast(ctx, uploadFrame("play_uploaded_audio", id, func(o *wire.Obj) { o.String("error", why) }))
	}
	if a.opt.Media == nil {
		fail("no audio output: the daemon runs without media")
		return
	}
	path, _ := a.uploads.Audio(id)
	a.playingAudio = id
	kit.AskFrom(ctx, a.opt.Media, &messages.PlaySound{File: path}, 5*time.Second, func(_ any, err error) {
		if err != nil {
			fail(err.Error())
		}
	})
}
