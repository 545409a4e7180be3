// Package gst runs the daemon's media pipelines (camera encoding,
// microphone, speaker, sound files) in GStreamer, as supervised
// gst-launch-1.0 child processes that exchange RTP with the daemon over
// UDP on 127.0.0.1. The daemon stays a pure-Go binary (no cgo), so it
// cross-compiles for the robot, and a pipeline crash is a restart, not a
// daemon crash.
//
// # Process model
//
// Detect finds gst-launch-1.0 and which elements are installed; without
// GStreamer it returns ErrNotInstalled and the daemon reports no_media.
// Each pipeline is one Process: a child in a process group of its own,
// SIGTERMed then SIGKILLed as a group on Stop (nothing it started
// survives), SIGKILLed by the kernel if the daemon dies (Pdeathsig on
// Linux), restarted when it ends with capped exponential backoff, jitter
// and a decaying failure budget (Backoff), every start, exit and decision
// reported as an Event with the exit status and GStreamer's last stderr
// lines. Output lines are bounded (MaxLineLen), truncated and
// rate-limited on their way to the log. The pipelines are:
//
//   - video (VideoArgs): the daemon's JPEG camera frames, written to the
//     child's stdin through Process.Write, which never blocks and drops
//     the oldest frame when the encoder falls behind -> jpegdec -> VP8
//     (vp8enc, realtime) or H.264 (x264enc zerolatency, or the Pi's
//     v4l2h264enc) -> RTP -> the daemon's UDPReceiver. A keyframe every
//     second, since a peer's PLI cannot reach gst-launch-1.0.
//   - audio (AudioArgs), one process because webrtcdsp's echo
//     cancellation needs webrtcechoprobe on the speaker in the same
//     pipeline: microphone -> [webrtcdsp] -> Opus RTP -> the daemon; and
//     N Opus RTP inputs (WebRTC consumers' audio, through a jitter buffer
//     and opusdec with FEC and PLC) plus one L16 RTP input (sounds) ->
//     audiomixer -> [webrtcechoprobe] -> level -> speaker. The level
//     element's messages, printed by gst-launch-1.0 -m, are parsed by
//     ParseLevel / LevelHandler: they tell the daemon (tests, the head
//     wobbler) what the speaker plays.
//   - sound (SoundArgs, PlaySound): one short process per sound, the file
//     on stdin -> decodebin -> L16 RTP, paced in real time, into the audio
//     process's sound port; exits 0 at the end of the file.
//   - probe (Probe): decides within 5 s whether an uploaded file is
//     decodable audio.
//   - camera (CameraArgs, run by media/gstcam): a source element
//     (libcamerasrc for the wireless robot's CSI camera, or any source
//     named by --camera gst:...) -> videorate, videoscale, videoconvert
//     to the configured I420 size and rate -> jpegenc -> fdsink on
//     stdout. Spec.OnStdoutRaw hands the child's stdout to the daemon as
//     a byte stream, and JPEGSplitter cuts it into images by following
//     the JPEG structure (segment lengths, byte stuffing), with a size
//     bound and resynchronisation on garbage.
//
// Files reach GStreamer as the child's stdin, opened by the daemon: no
// path is ever written into a pipeline description, so no file name can
// break its syntax. Device names are checked and quoted.
//
// # Ports
//
// The daemon's receivers (video, microphone) bind 127.0.0.1:0 and tell
// the pipeline where to send; they outlive pipeline restarts. The audio
// process's inputs are udpsrc sockets the child binds, so their ports are
// picked before it starts (FreeUDPPorts: bind :0, read, close). Another
// program could take such a port in between: the pipeline then fails to
// bind, exits, and Spec.Argv picks fresh ports for the restart (the
// daemon re-aims its UDPSenders with SetPort).
//
// # Why UDP on loopback, and its risk
//
// gst-launch-1.0 can only be wired to the daemon through files, pipes or
// sockets. Stdin carries the video frames; RTP over UDP is what
// GStreamer's payloaders and jitter buffers speak, keeps packet
// boundaries, and loses rather than blocks when a side is slow, which is
// what live media wants. unixfdsink (shared memory) needs GStreamer 1.24.
// The risk: any local user can send datagrams to these ports, so could
// play sound through the robot's speaker (speaker and sound ports) or
// inject packets into the daemon's receivers (which would forward them to
// WebRTC peers). Mitigations: everything is bound to 127.0.0.1 only, never
// reachable from the network; the ports are ephemeral and change with
// each restart; packets that are not RTP are dropped. Not done: filtering
// the daemon's receivers by the sender's port (udpsink bind-port, which
// reintroduces the port race) and putting the pipelines in a network
// namespace. On the robot (a single-user device) this is acceptable;
// the reference's own signalling server listens on all interfaces
// without authentication.
//
// # Tested against
//
// GStreamer 1.22.0 (Debian 12: base, good, bad, ugly, libav) on
// linux/amd64, with real gst-launch-1.0 runs in the tests: VP8 and x264
// video from generated JPEG frames (payload type, marker bits, keyframes,
// a steady stream), the simulated audio process (microphone Opus RTP
// decoded by a second gst-launch-1.0 and measured; Opus into a speaker
// input and L16 from the sound player raising the speaker level, silence
// otherwise, also with no input at all; echo cancellation enabled),
// Probe on WAV, Ogg/Opus, M4A, an M4A with a video track (accepted), text,
// random bytes, empty and video-only files (refused) and a stalled input
// (timeout), the camera pipeline (videotestsrc through CameraArgs, its
// stdout split into images that image/jpeg decodes; the splitter also by
// unit tests and a fuzz target), and the supervision (kill -9 restarts the child, backoff and
// budget with an injected clock, Stop ends the whole group with SIGKILL
// when SIGTERM is ignored, nothing outlives the leader, the child dies
// with a SIGKILLed parent, Write never blocks). Measured outside the
// tests on this machine (2 cores): a 640x480 frame leaves as RTP 2-5 ms
// after it was written (VP8) and 1.5-3 ms (x264), far inside the latency
// budget of 3 frame periods.
//
// Not tested here, for want of the hardware: the Raspberry Pi's pipeline.
// There, v4l2h264enc (EncoderV4L2H264, H.264 constrained baseline level
// 3.1 at the reference's 5 Mb/s with I-frames every KeyframeInterval)
// would replace the software encoders, fed either by the daemon's JPEG
// frames as here or, better, by libcamerasrc directly (raw frames, no
// JPEG round trip), which would need the camera handed from the daemon
// to the pipeline; libcamerasrc in the camera pipeline; and real ALSA
// devices (alsasrc/alsasink with the
// wireless robot's reachymini_audio_src / reachymini_audio_sink), whose
// buffer sizes may need tuning for latency. Outside Linux the child does
// not die with the daemon (no Pdeathsig).
package gst
