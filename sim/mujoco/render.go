//go:build mujoco

package mujoco

/*
#cgo LDFLAGS: -lmujoco -lOSMesa
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <GL/osmesa.h>
#include <mujoco/mujoco.h>

// rm_render is one offscreen renderer: an OSMesa context (current on the
// thread that made it), MuJoCo's scene and GPU context for one model, and
// the pixel buffers. Everything is C memory, freed by rm_render_free.
typedef struct {
	OSMesaContext ctx;
	unsigned char* fb;   // OSMesa's window buffer (MuJoCo renders to its own offscreen FBO)
	unsigned char* rgb;  // read-back pixels, 3 bytes each, bottom row first
	int w, h;
	int scene, context;  // made
	mjvScene scn;
	mjrContext con;
	mjvCamera cam;
	mjvOption opt;
} rm_render;

// mju_error exits the process by default; while a GL context is made, an
// error comes back here instead (same thread, same C call).
static jmp_buf rm_jmp;
static char rm_err[512];
static void rm_on_error(const char* msg) {
	snprintf(rm_err, sizeof rm_err, "%s", msg);
	longjmp(rm_jmp, 1);
}

static void rm_render_free(rm_render* r) {
	if (!r) return;
	if (r->context) mjr_freeContext(&r->con);
	if (r->scene) mjv_freeScene(&r->scn);
	if (r->ctx) OSMesaDestroyContext(r->ctx);
	free(r->fb);
	free(r->rgb);
	free(r);
}

// rm_render_new makes an OSMesa context current on this thread and
// prepares rendering of m's camera camid at w x h (at most the model's
// offscreen buffer). NULL with a message in err on failure.
static rm_render* rm_render_new(const mjModel* m, int camid, int w, int h, char* err, int errsz) {
	rm_render* r = calloc(1, sizeof(rm_render));
	if (!r) { snprintf(err, errsz, "out of memory"); return NULL; }
	r->ctx = OSMesaCreateContextExt(OSMESA_RGBA, 24, 8, 8, NULL);
	if (!r->ctx) { snprintf(err, errsz, "OSMesaCreateContextExt failed"); rm_render_free(r); return NULL; }
	r->fb = calloc((size_t)w * h, 4);
	if (!r->fb || !OSMesaMakeCurrent(r->ctx, r->fb, GL_UNSIGNED_BYTE, w, h)) {
		snprintf(err, errsz, "OSMesaMakeCurrent failed"); rm_render_free(r); return NULL;
	}
	void (*prev)(const char*) = mju_user_error;
	mju_user_error = rm_on_error;
	if (setjmp(rm_jmp)) {
		mju_user_error = prev;
		snprintf(err, errsz, "%s", rm_err);
		r->context = 0; // half made: leaked rather than freed twice
		rm_render_free(r);
		return NULL;
	}
	mjv_defaultScene(&r->scn);
	mjv_makeScene(m, &r->scn, 2000);
	r->scene = 1;
	mjr_defaultContext(&r->con);
	mjr_makeContext(m, &r->con, mjFONTSCALE_100);
	r->context = 1;
	mju_user_error = prev;
	mjr_setBuffer(mjFB_OFFSCREEN, &r->con);
	if (r->con.currentBuffer != mjFB_OFFSCREEN) {
		snprintf(err, errsz, "no offscreen framebuffer");
		rm_render_free(r); return NULL;
	}
	if (w > r->con.offWidth) w = r->con.offWidth;
	if (h > r->con.offHeight) h = r->con.offHeight;
	r->w = w; r->h = h;
	r->rgb = malloc((size_t)w * h * 3);
	if (!r->rgb) { snprintf(err, errsz, "out of memory"); rm_render_free(r); return NULL; }
	// Software rendering: shadows and reflections would cost most of the
	// frame (measured: docs/benchmarks.md); the picture keeps its lights.
	r->scn.flags[mjRND_SHADOW] = 0;
	r->scn.flags[mjRND_REFLECTION] = 0;
	mjv_defaultOption(&r->opt);
	mjv_defaultCamera(&r->cam);
	r->cam.type = mjCAMERA_FIXED;
	r->cam.fixedcamid = camid;
	return r;
}

// rm_render_update builds the scene from the model's state (the caller
// holds the simulation's lock).
static void rm_render_update(rm_render* r, const mjModel* m, mjData* d) {
	mjv_updateScene(m, d, &r->opt, NULL, &r->cam, mjCAT_ALL, &r->scn);
}

// rm_render_draw renders the scene and reads the pixels back into r->rgb.
static void rm_render_draw(rm_render* r) {
	mjrRect vp = {0, 0, r->w, r->h};
	mjr_render(vp, &r->scn, &r->con);
	mjr_readPixels(r->rgb, NULL, vp, &r->con);
}
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"time"
	"unsafe"

	"reachyd/hw/camera"
)

// EyeCamera is the reference's head camera in its MJCF (and in reachyd's
// simplified model).
const EyeCamera = "eye_camera"

// renderer draws one model's camera offscreen, on the OS thread that made
// it: every call must come from that thread (Camera.Run locks it).
type renderer struct {
	r    *C.rm_render
	sim  *Sim
	w, h int
	img  *image.YCbCr
}

func newRenderer(s *Sim, w, h int) (*renderer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	cn := C.CString(EyeCamera)
	cam := C.mj_name2id(s.m, C.mjOBJ_CAMERA, cn)
	C.free(unsafe.Pointer(cn))
	if cam < 0 {
		return nil, fmt.Errorf("mujoco: the model has no camera %q", EyeCamera)
	}
	errbuf := (*C.char)(C.calloc(512, 1))
	defer C.free(unsafe.Pointer(errbuf))
	r := C.rm_render_new(s.m, cam, C.int(w), C.int(h), errbuf, 512)
	if r == nil {
		return nil, fmt.Errorf("mujoco: offscreen rendering (OSMesa): %s", C.GoString(errbuf))
	}
	rw, rh := int(r.w), int(r.h)
	return &renderer{r: r, sim: s, w: rw, h: rh,
		img: image.NewYCbCr(image.Rect(0, 0, rw, rh), image.YCbCrSubsampleRatio420)}, nil
}

// frame renders the current state and returns it as a JPEG image.
func (r *renderer) frame(buf *bytes.Buffer) error {
	s := r.sim
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	C.rm_render_update(r.r, s.m, s.d)
	s.mu.Unlock()
	C.rm_render_draw(r.r)
	rgb := unsafe.Slice((*byte)(unsafe.Pointer(r.r.rgb)), r.w*r.h*3)
	toYCbCr(r.img, rgb, r.w, r.h)
	buf.Reset()
	return jpeg.Encode(buf, r.img, &jpeg.Options{Quality: 80})
}

func (r *renderer) close() {
	C.rm_render_free(r.r)
	r.r = nil
}

// toYCbCr converts OpenGL's RGB rows (bottom row first) into a 4:2:0
// picture, top row first: what image/jpeg encodes fastest.
func toYCbCr(img *image.YCbCr, rgb []byte, w, h int) {
	for y := 0; y < h; y++ {
		row := rgb[(h-1-y)*w*3:]
		yo := y * img.YStride
		for x := 0; x < w; x++ {
			r, g, b := int32(row[3*x]), int32(row[3*x+1]), int32(row[3*x+2])
			img.Y[yo+x] = uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
			if x&1 == 0 && y&1 == 0 {
				co := (y/2)*img.CStride + x/2
				img.Cb[co] = uint8(clamp8((-11056*r - 21712*g + 32768*b + 257<<15) >> 16))
				img.Cr[co] = uint8(clamp8((32768*r - 27440*g - 5328*b + 257<<15) >> 16))
			}
		}
	}
}

func clamp8(v int32) int32 { return min(max(v, 0), 255) }

// ProbeRender reports whether offscreen rendering works here (an OSMesa
// context and MuJoCo's renderer on the simplified model), with the reason
// when it does not.
func ProbeRender() error {
	s, err := New(Options{Paused: true})
	if err != nil {
		return err
	}
	defer s.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := newRenderer(s, 64, 48)
		if err == nil {
			var buf bytes.Buffer
			err = r.frame(&buf)
			r.close()
		}
		errc <- err
	}()
	return <-errc
}

// Camera is the simulation's eye camera as a camera source: the Robot's
// open simulation rendered offscreen at FPS and encoded as JPEG (the
// reference streams eye_camera at 25 Hz).
type Camera struct {
	Robot         *Robot
	Width, Height int
	FPS           int
}

var _ camera.Source = (*Camera)(nil)

// Describe names the source.
func (c *Camera) Describe() string {
	return fmt.Sprintf("mujoco %s %dx%d@%d (OSMesa)", EyeCamera, c.Width, c.Height, c.FPS)
}

// Run renders frames until ctx ends. While the simulation is closed (the
// daemon's backend stopped) it waits; when the simulation is reopened it
// builds a renderer for the new one. The OpenGL context belongs to this
// goroutine's OS thread, locked for the whole run.
func (c *Camera) Run(ctx context.Context, emit func(camera.Frame)) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fps := c.FPS
	if fps <= 0 {
		fps = 25
	}
	period := time.Second / time.Duration(fps)
	tk := time.NewTicker(period)
	defer tk.Stop()
	var rd *renderer
	defer func() {
		if rd != nil {
			rd.close()
		}
	}()
	var buf bytes.Buffer
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tk.C:
		}
		s := c.Robot.current()
		if s == nil {
			continue
		}
		if rd != nil && rd.sim != s {
			rd.close()
			rd = nil
		}
		if rd == nil {
			var err error
			if rd, err = newRenderer(s, c.Width, c.Height); err != nil {
				if errors.Is(err, errClosed) {
					continue
				}
				return err
			}
		}
		at := time.Now()
		if err := rd.frame(&buf); err != nil {
			if errors.Is(err, errClosed) {
				continue
			}
			return err
		}
		seq++
		emit(camera.Frame{JPEG: bytes.Clone(buf.Bytes()), Width: rd.w, Height: rd.h, Seq: seq, At: at})
	}
}

// current is the open simulation, or nil.
func (r *Robot) current() *Sim {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, _ := r.sim.(*Sim)
	return s
}
