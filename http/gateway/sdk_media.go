package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// The SDK commands answered by the media actor and those whose replies take
// a while (state; recorded moves and datasets are in routes_datasets.go). On /ws/sdk media commands are
// told to the media actor (fire-and-forget); on the data channel they are
// asked and answered.

// playSoundCmd is play_sound. A path is checked as on the REST route
// (soundRef); without media the reference plays nothing and acks.
func (g *Gateway) playSoundCmd(c *cmd, file string) {
	ref, err := g.soundRef(file, c.trusted)
	if err != nil {
		g.badInput.Log(g.log, slog.LevelInfo, "play_sound refused", "file", file, "err", err)
		c.fail(g.errText(err, false))
		return
	}
	if g.sys.Media == nil {
		g.log.Info("play_sound: no audio output in this daemon", "file", file)
		c.ok()
		return
	}
	g.mediaCmd(c, &messages.PlaySound{File: ref})
}

// mediaCmd runs a media command that replies MediaOK: told on /ws/sdk,
// asked and acked on the data channel; without media nothing happens and
// the peer is acked, as the reference does without a media server.
func (g *Gateway) mediaCmd(c *cmd, m any) {
	switch {
	case g.sys.Media == nil:
		c.ok()
	case c.peer == nil:
		g.sys.Kit.Tell(g.sys.Media, m)
	default:
		if _, err := peerAsk[messages.MediaOK](g, g.sys.Media, m); err != nil {
			c.fail(g.errText(err, false))
			return
		}
		c.ok()
	}
}

// volumeUnavailableText is the data channel's "no control" error.
func volumeUnavailableText(text string) string {
	if strings.HasPrefix(text, "Volume control unavailable") {
		return text
	}
	return "Volume control unavailable: " + text
}

// setVolume is set_volume and set_microphone_volume.
func setVolume(mic bool) sdkHandler {
	return func(g *Gateway, c *cmd) (func(), error) {
		v := c.required("volume")
		var n int64
		if v != nil {
			n, _ = validate.IntInRange(v, c.loc("volume"), 0, 100, &c.errs)
		}
		if len(c.errs) > 0 {
			return nil, nil
		}
		m := &messages.SetVolume{Microphone: mic, Volume: int(n)}
		return func() {
			switch {
			case c.peer == nil:
				if g.sys.Media != nil {
					g.sys.Kit.Tell(g.sys.Media, m)
				}
				return
			case g.sys.Media == nil:
				c.failCmd(volumeUnavailable)
				return
			}
			r, err := peerAsk[messages.Volume](g, g.sys.Media, m)
			if err == nil {
				c.reply(func(o *wire.Obj) {
					o.String("status", "ok")
					o.String("command", c.typ)
					o.Int("volume", int64(r.Volume))
				})
				return
			}
			if messages.KindOf(err) == messages.KindUnavailable {
				c.failCmd(volumeUnavailableText(g.errText(err, false)))
				return
			}
			// As the reference: the error, with the volume in effect (-1
			// when it cannot be read either).
			g.log.Warn("set volume failed", "microphone", mic, "err", err)
			cur := -1
			if r, err := peerAsk[messages.Volume](g, g.sys.Media, &messages.GetVolume{Microphone: mic}); err == nil {
				cur = r.Volume
			}
			c.reply(func(o *wire.Obj) {
				o.String("status", "error")
				o.String("command", c.typ)
				o.Int("volume", int64(cur))
			})
		}, nil
	}
}

// getVolume is get_volume and get_microphone_volume.
func getVolume(mic bool) func(g *Gateway, c *cmd) {
	return func(g *Gateway, c *cmd) {
		if g.sys.Media == nil {
			c.failCmd(volumeUnavailable)
			return
		}
		vol := -1 // the reference's reading when the mixer fails
		r, err := peerAsk[messages.Volume](g, g.sys.Media, &messages.GetVolume{Microphone: mic})
		switch {
		case err == nil:
			vol = r.Volume
		case messages.KindOf(err) == messages.KindUnavailable:
			c.failCmd(volumeUnavailableText(g.errText(err, false)))
			return
		default:
			g.log.Warn("get volume failed", "microphone", mic, "err", err)
		}
		c.reply(func(o *wire.Obj) {
			o.String("command", c.typ)
			o.Int("volume", int64(vol))
		})
	}
}

// audioCmdError is the data channel's error text for an audio-board
// command: the board's absence as the media actor says it, anything else
// "Audio config command failed: ...".
func (g *Gateway) audioCmdError(err error) string {
	if messages.KindOf(err) == messages.KindUnavailable || errors.Is(err, kit.ErrNoActor) || errors.Is(err, kit.ErrTimeout) {
		return g.errText(err, false)
	}
	g.log.Warn("audio board command failed", "err", err)
	return "Audio config command failed: " + messages.PublicText(err.Error())
}

func (g *Gateway) applyAudioConfigCmd(c *cmd, m *messages.ApplyAudioConfig) {
	switch {
	case g.sys.Media == nil:
		c.failCmd(noBoard)
		return
	case c.peer == nil:
		// Applied on /ws/sdk too, as the reference's process_command does
		// (only its reply is dropped there).
		g.sys.Kit.Tell(g.sys.Media, m)
		return
	}
	r, err := peerAsk[messages.AudioConfigApplied](g, g.sys.Media, m)
	if err != nil {
		c.failCmd(g.audioCmdError(err))
		return
	}
	c.reply(func(o *wire.Obj) {
		if r.Applied {
			o.String("status", "ok")
		} else {
			o.String("status", "error")
		}
		o.String("command", "apply_audio_config")
		o.Bool("applied", r.Applied)
	})
}

func (g *Gateway) readAudioParameterCmd(c *cmd, name string) {
	if g.sys.Media == nil {
		c.failCmd(noBoard)
		return
	}
	p, err := peerAsk[messages.AudioParam](g, g.sys.Media, &messages.ReadAudioParameter{Name: name})
	switch {
	case err == nil:
	case messages.KindOf(err) == messages.KindNotFound:
		p, err = messages.AudioParam{Name: name}, nil // the reference's values: null
	default:
		c.failCmd(g.audioCmdError(err))
		return
	}
	c.reply(func(o *wire.Obj) {
		o.String("command", "read_audio_parameter")
		o.String("name", name)
		o.Floats("values", p.Values)
	})
}

// peerState is get_state: {"state": StateSnapshot}.
func (g *Gateway) peerState(c *cmd) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
	defer cancel()
	snap, err := g.stateSnapshot(ctx, nil)
	if err != nil {
		c.fail(g.errText(err, true))
		return
	}
	c.reply(func(o *wire.Obj) { o.Raw("state", snap) })
}

// StateSnapshot is the reference's StateSnapshot as JSON, what get_state
// answers and what the WebRTC producer puts in each pose frame; nil when
// the state cannot be had (no backend).
func (g *Gateway) StateSnapshot() []byte {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.AskTimeout)
	defer cancel()
	snap, err := g.stateSnapshot(ctx, nil)
	if err != nil {
		return nil
	}
	return snap
}

// stateSnapshot appends the StateSnapshot of the robot now to b.
func (g *Gateway) stateSnapshot(ctx context.Context, b []byte) ([]byte, error) {
	s, err := kit.Ask[*messages.RobotState](ctx, g.sys.Kit, g.sys.Hub, &messages.GetState{})
	if err != nil {
		return nil, err
	}
	doa := g.readDoA(ctx)
	st := wire.ObjStart(b)
	st.Mat4("head_pose", s.HeadPose)
	st.Floats("antennas", s.Antennas[:])
	st.Floats("head_joint_positions", s.HeadJoints[:])
	st.Float("body_yaw", s.HeadJoints[0])
	st.String("motor_mode", string(s.Mode))
	st.Bool("is_recording", s.Recording)
	st.Bool("is_move_running", s.MoveRunning)
	st.Key("face_target")
	st.B = wire.FaceTarget(st.B, messages.FaceTarget{}, wire.Python)
	st.Key("doa")
	st.B = wire.DoA(st.B, doa, wire.Python)
	return st.End(), nil
}
