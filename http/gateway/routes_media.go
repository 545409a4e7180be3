package gateway

import (
	"context"
	"errors"
	"math"
	"net/http"
	"reachyd/media/mixer"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"reachyd/actors/kit"
	"reachyd/http/validate"
	"reachyd/messages"
	"reachyd/messages/wire"
)

// The media, volume, camera and audio-config routes (the reference's
// routers/media.py, volume.py, camera.py, audio_config.py), answered by the
// media actor (g.sys.Media). Without media (no_media, g.sys.Media nil) each
// answers as the reference does without a media server where that is an
// answer a client can rely on (sound commands are accepted and do nothing,
// tracking is unavailable, there is no direction of arrival, no ReSpeaker
// board), and with a 503 naming the reason where the reference would speak
// to a device reachyd only reaches through the media actor (volume, camera
// specs, sound uploads). docs/compat.md lists the differences.

func (g *Gateway) mediaRoutes(api *echo.Group) {
	api.POST("/media/play_sound", g.playSound)
	api.POST("/media/stop_sound", g.mediaCommand(&messages.StopSound{}))
	api.POST("/media/clear_incoming_audio", g.mediaCommand(&messages.ClearIncomingAudio{}))
	api.POST("/media/wobbling/enable", g.wobbling(true))
	api.POST("/media/wobbling/disable", g.wobbling(false))
	api.POST("/media/tracking/enable", g.trackingEnable)
	api.POST("/media/tracking/disable", g.trackingDisable)
	api.GET("/media/tracking/face", g.trackedFace)
	api.POST("/media/sounds/upload", g.soundUpload)
	api.GET("/media/sounds", g.soundList)
	api.DELETE("/media/sounds/:filename", g.soundDelete)

	api.GET("/volume/current", g.volumeGet(false))
	api.POST("/volume/set", g.volumeSet(false))
	api.POST("/volume/test-sound", g.testSound)
	api.GET("/volume/microphone/current", g.volumeGet(true))
	api.POST("/volume/microphone/set", g.volumeSet(true))

	api.GET("/camera/specs", g.cameraSpecs)

	api.POST("/audio/config/apply", g.audioConfigApply)
	api.GET("/audio/config/parameter/:name", g.audioParameter)
}

// noMedia is the reason given where reachyd cannot answer without media.
const noMedia = "the daemon runs without media (no_media)"

var statusOK = []byte(`{"status":"ok"}`)

// backendUp answers 503 "Backend not running" (and false) when the robot
// backend does not run: the reference's media routes depend on it.
func (g *Gateway) backendUp(c echo.Context) (bool, error) {
	if _, err := g.state(c); err != nil {
		return false, g.fail(c, err, true)
	}
	return true, nil
}

// isPeerTrusted reports whether the request came over the unix socket from
// reachyd's own user or root.
func isPeerTrusted(c echo.Context) bool {
	p, local := peerOf(c.Request().Context())
	return local && p.Trusted()
}

func (g *Gateway) playSound(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	file, errs := decodeJSON(c, body, validate.PlaySoundFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	if ok, err := g.backendUp(c); !ok {
		return err
	}
	ref, err := g.soundRef(file, isPeerTrusted(c))
	if err != nil {
		return g.fail(c, err, false)
	}
	if g.sys.Media == nil {
		// The reference's backend plays nothing without a media server.
		g.log.Info("play_sound: no audio output without media", "file", file)
		return jsonBytes(c, statusOK)
	}
	if _, err := ask[messages.MediaOK](g, c, g.sys.Media, &messages.PlaySound{File: ref}); err != nil {
		return g.fail(c, err, false)
	}
	return jsonBytes(c, statusOK)
}

// mediaCommand answers a media command that needs the backend, as
// stop_sound and clear_incoming_audio do (no-ops without media).
func (g *Gateway) mediaCommand(msg any) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ok, err := g.backendUp(c); !ok {
			return err
		}
		if g.sys.Media != nil {
			if _, err := ask[messages.MediaOK](g, c, g.sys.Media, msg); err != nil {
				return g.fail(c, err, false)
			}
		}
		return jsonBytes(c, statusOK)
	}
}

func (g *Gateway) wobbling(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ok, err := g.backendUp(c); !ok {
			return err
		}
		if g.sys.Media != nil {
			if _, err := ask[messages.MediaOK](g, c, g.sys.Media, &messages.SetWobbling{On: on}); err != nil {
				return g.fail(c, err, false)
			}
		} else if !on {
			// The reference resets the offsets even without a media server.
			g.sys.Kit.Tell(g.sys.Moves, &messages.SetSpeechOffsets{})
		}
		return jsonBytes(c, statusOK)
	}
}

// Head tracking needs a face detector on the camera's frames, which reachyd
// does not have: enabling it answers "unavailable", as the reference does
// when it has no camera.
func (g *Gateway) trackingEnable(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	if _, errs := decodeJSON(c, body, validate.TrackingWeightFromValue); errs != nil {
		return invalid(c, errs)
	}
	if ok, err := g.backendUp(c); !ok {
		return err
	}
	return jsonBytes(c, []byte(`{"status":"unavailable","enabled":false}`))
}

func (g *Gateway) trackingDisable(c echo.Context) error {
	if ok, err := g.backendUp(c); !ok {
		return err
	}
	return jsonBytes(c, []byte(`{"status":"ok","enabled":false}`))
}

func (g *Gateway) trackedFace(c echo.Context) error {
	if ok, err := g.backendUp(c); !ok {
		return err
	}
	o := wire.ObjStart(nil)
	o.String("status", "ok")
	o.Key("face_target")
	o.B = wire.FaceTarget(o.B, messages.FaceTarget{}, wire.Python)
	return jsonBytes(c, o.End())
}

// ---- volume ------------------------------------------------------------------

func volumeBody(v messages.Volume) []byte {
	o := wire.ObjStart(nil)
	o.Int("volume", int64(v.Volume))
	if v.Platform == "" {
		v.Platform = mixer.PlatformName()
	}
	o.String("platform", v.Platform)
	o.String("device", v.Device)
	return o.End()
}

// volumeUnavailable is the detail of the volume routes without media.
const volumeUnavailable = "Volume control unavailable: " + noMedia

func (g *Gateway) volumeGet(mic bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		if g.sys.Media == nil {
			return detail(c, http.StatusServiceUnavailable, volumeUnavailable)
		}
		v, err := ask[messages.Volume](g, c, g.sys.Media, &messages.GetVolume{Microphone: mic})
		if err != nil {
			return g.fail(c, err, false)
		}
		return jsonBytes(c, volumeBody(v))
	}
}

// volumeSet sets a volume. The reference plays a confirmation sound after
// every speaker change; reachyd only with ?test_sound=true (upstream issue
// #1325: the sound surprised people, and sliders play it for every step).
func (g *Gateway) volumeSet(mic bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		test := false
		if !mic {
			var errs validate.Errors
			if test, errs = validate.QueryBool(c.QueryParams(), "test_sound", &falseDefault); errs != nil {
				return invalid(c, errs)
			}
		}
		body, err := readBody(c)
		if err != nil {
			return bodyError(c, err)
		}
		vol, errs := decodeJSON(c, body, validate.VolumeFromValue)
		if errs != nil {
			return invalid(c, errs)
		}
		if g.sys.Media == nil {
			return detail(c, http.StatusServiceUnavailable, volumeUnavailable)
		}
		v, err := ask[messages.Volume](g, c, g.sys.Media, &messages.SetVolume{Microphone: mic, Volume: vol, TestSound: test})
		if err != nil {
			return g.fail(c, err, false)
		}
		return jsonBytes(c, volumeBody(v))
	}
}

func (g *Gateway) testSound(c echo.Context) error {
	if ok, err := g.backendUp(c); !ok {
		return err
	}
	if g.sys.Media == nil {
		return detail(c, http.StatusServiceUnavailable, "No audio output: "+noMedia)
	}
	r, err := ask[messages.TestSound](g, c, g.sys.Media, &messages.PlayTestSound{})
	if err != nil {
		var me *messages.Error
		if errors.As(err, &me) && me.Kind != messages.KindUnavailable {
			g.log.Warn("test sound failed", "err", err)
			return detail(c, http.StatusInternalServerError, "Failed to play test sound (see logs for details)")
		}
		return g.fail(c, err, false)
	}
	if r.Busy {
		return jsonBytes(c, []byte(`{"status":"busy","message":"Audio device is currently in use, test sound was skipped."}`))
	}
	return jsonBytes(c, []byte(`{"status":"ok","message":"Test sound played"}`))
}

// ---- camera --------------------------------------------------------------------

func resolution(b []byte, r messages.CameraResolution) []byte {
	o := wire.ObjStart(b)
	o.Style = wire.Pydantic
	o.String("name", r.Name)
	o.Int("width", int64(r.Width))
	o.Int("height", int64(r.Height))
	// ResolutionInfo.fps is an int in the reference.
	o.Int("fps", int64(math.Round(r.FPS)))
	o.Float("crop_factor", r.CropFactor)
	return o.End()
}

// cameraSpecsBody is the reference's CameraSpecsResponse.
func cameraSpecsBody(s messages.CameraSpecs) []byte {
	o := wire.ObjStart(nil)
	o.Style = wire.Pydantic
	o.String("name", s.Name)
	o.Key("available_resolutions")
	o.B = append(o.B, '[')
	for i, r := range s.Resolutions {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = resolution(o.B, r)
	}
	o.B = append(o.B, ']')
	o.Key("default_resolution")
	o.B = resolution(o.B, s.Default)
	o.Key("K")
	o.B = append(o.B, '[')
	for i := range s.K {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = wire.Pydantic.AppendFloats(o.B, s.K[i][:])
	}
	o.B = append(o.B, ']')
	d := s.D
	if d == nil {
		d = []float64{}
	}
	o.Floats("D", d)
	return o.End()
}

func (g *Gateway) cameraSpecs(c echo.Context) error {
	if g.sys.Media == nil {
		return detail(c, http.StatusServiceUnavailable, "Camera specifications unavailable: "+noMedia)
	}
	s, err := ask[messages.CameraSpecs](g, c, g.sys.Media, &messages.GetCameraSpecs{})
	if err != nil {
		return g.fail(c, err, false)
	}
	return jsonBytes(c, cameraSpecsBody(s))
}

// ---- audio board -------------------------------------------------------------------

// noBoard is the reference's answer without a ReSpeaker board.
const noBoard = "ReSpeaker audio board not available"

// audioBoardError writes an audio-board error as the reference does: its
// 503 and 404 as they come, anything else a 500 "<op> failed: ...".
func (g *Gateway) audioBoardError(c echo.Context, op string, err error) error {
	var me *messages.Error
	if errors.As(err, &me) && me.Kind != messages.KindInternal {
		return g.fail(c, err, false)
	}
	if errors.Is(err, kit.ErrNoActor) || errors.Is(err, kit.ErrTimeout) {
		return g.fail(c, err, false)
	}
	g.log.Warn("audio board command failed", "op", op, "err", err)
	return detail(c, http.StatusInternalServerError, op+" failed: "+messages.PublicText(strings.TrimPrefix(err.Error(), op+" failed: ")))
}

func (g *Gateway) audioConfigApply(c echo.Context) error {
	body, err := readBody(c)
	if err != nil {
		return bodyError(c, err)
	}
	cfg, errs := decodeJSON(c, body, validate.AudioConfigFromValue)
	if errs != nil {
		return invalid(c, errs)
	}
	if g.sys.Media == nil {
		return detail(c, http.StatusServiceUnavailable, noBoard)
	}
	r, err := ask[messages.AudioConfigApplied](g, c, g.sys.Media, audioConfigMsg(cfg))
	if err != nil {
		return g.audioBoardError(c, "apply_audio_config", err)
	}
	o := wire.ObjStart(nil)
	o.Bool("applied", r.Applied)
	return jsonBytes(c, o.End())
}

func audioConfigMsg(cfg validate.AudioConfig) *messages.ApplyAudioConfig {
	m := &messages.ApplyAudioConfig{Verify: cfg.Verify, Params: make([]messages.AudioParam, len(cfg.Params))}
	for i, p := range cfg.Params {
		m.Params[i] = messages.AudioParam{Name: p.Name, Values: p.Values}
	}
	return m
}

func audioParamBody(b []byte, p messages.AudioParam, style wire.FloatStyle) []byte {
	o := wire.ObjStart(b)
	o.Style = style
	o.String("name", p.Name)
	v := p.Values
	if v == nil {
		v = []float64{}
	}
	o.Floats("values", v)
	return o.End()
}

func (g *Gateway) audioParameter(c echo.Context) error {
	name := pathParam(c, "name")
	if g.sys.Media == nil {
		return detail(c, http.StatusServiceUnavailable, noBoard)
	}
	p, err := ask[messages.AudioParam](g, c, g.sys.Media, &messages.ReadAudioParameter{Name: name})
	if err != nil {
		return g.audioBoardError(c, "read_audio_parameter", err)
	}
	return jsonBytes(c, audioParamBody(nil, p, wire.Pydantic))
}

// ---- direction of arrival --------------------------------------------------------------

// doaTimeout bounds the DoA ask of a state read: the media actor answers
// from a cached reading, and a state read must not wait on audio.
const doaTimeout = 250 * time.Millisecond

// readDoA asks the media actor for the direction of arrival; nil when media
// is off or does not answer (the reference's null).
func (g *Gateway) readDoA(ctx context.Context) *messages.DoA {
	if g.sys.Media == nil {
		return nil
	}
	// The media actor polls the board while the DoA is read and keeps the
	// latest reading where the state streams take it without an ask.
	if c := g.sys.MediaCell; c != nil {
		if d, ok := c.DoA(time.Now()); ok {
			return &d
		}
	}
	ctx, cancel := context.WithTimeout(ctx, doaTimeout)
	defer cancel()
	d, err := kit.Ask[messages.DoA](ctx, g.sys.Kit, g.sys.Media, &messages.GetDoA{})
	if err != nil {
		g.log.Debug("direction of arrival unavailable", "err", err)
		return nil
	}
	return &d
}
