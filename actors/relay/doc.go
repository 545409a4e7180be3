// Package relay is the central signalling relay: remote WebRTC sessions
// that come through the central signalling server (a Hugging Face Space
// speaking HTTP + SSE, spec/daemon-api.md 6.2) are handed to the robot's
// own producer (media/webrtc), which the relay reaches in-process as a
// listener of its signalling server (Producer.Connect; no loopback
// WebSocket). The robot is the producer at central and always offers.
//
// # Shape
//
// Core (core.go) is a plain value in the style of etcd raft: Step(now,
// jitter, input) returns effects, with no goroutine, clock or I/O. It holds
// the connection state (stopped, waiting_for_token, connecting, connected,
// reconnecting, error, with the reference's messages), our peer id at
// central, the negotiated heartbeat (recommended interval, else lease/3,
// else 5 s, clamped to [1, 60] s), the reconnection attempts and their
// delay (5 s·2^(n−1), at most 60 s, plus 0–10 % jitter, reset by a
// successful connection; error after 3 failed attempts, still retrying),
// the read timeout (60 s without a line), the split-brain check (GET
// /api/robot-status 10 s after welcome and every 30 s; 2 polls in a row
// without our peer id force a reconnection), and the session table with
// the rules of spec 6.4: one session at a time (robot_busy_local), the
// robot app lock taken for a remote session (robot_busy when another
// remote holds it, control-only with no lock while a local app holds
// it), the local list/startSession/sessionStarted handshake and the
// id maps, and the release with handoff when the last session ends by
// either side and without on the loss of central, of the producer, or a
// stop. Next() is its earliest deadline; the shell arms one timer for it.
//
// The actor (actor.go) performs the effects. Each of its goroutines
// reports to it as a message, stamped with the incarnation (epoch) and
// the connection (gen) it belongs to, so that a late report of an old
// connection is dropped: the SSE reader (central.go: Bearer header, never
// the token in a URL; 10 s to connect and get the headers; lines of at
// most 64 KiB; only non-empty `data:` lines carry JSON, decoded by
// DecodeCentral with limits and fuzzed; central's ping event has an empty
// one), one poster that sends POST /send in order (the offer before its
// candidates; answers read to 4 KiB; non-200 is only logged, except 400
// "Connect to /events first" or "Peer not found" for the open connection:
// central lost our peer behind it, and the relay reconnects after the
// backoff), the robot-status polls, and the in-process link to the producer,
// whose sends go through a queue of their own (a startSession builds a
// PeerConnection). The link follows the producer: a released or replaced
// producer (checked on every message and every second) ends the link and
// its sessions, and the relay attaches to the new one. Heartbeats are
// setPeerStatus {roles: [producer], meta: {name, transport, hardware_id}}
// with the name read at each beat, so a rename shows at the next one.
//
// Eviction (EvictRemote, asked by the app manager after the lock moved to
// a local app): central gets endSession local_app_started for every
// session, the producer gets endSession, and the answer waits until each
// producer session's Done (its PeerConnection closed, webrtc.Session.Done)
// or 8 s, so the app starts after the remote client is gone.
//
// What must outlive a crash lives in the Cell: whether the relay runs,
// the sessions it relayed, whether it holds the lock, and the previous
// incarnation's I/O. A new incarnation closes that I/O (the SSE stream,
// the poster, the link: the producer ends the link's sessions), tells
// central the sessions ended, releases the lock's remote hold, and starts
// again if the relay was running.
//
// # Tested against
//
// core_test.go drives the core with synthetic inputs and times (heartbeat
// negotiation, backoff and jitter, the error state after 3 attempts, 401
// and other statuses, the read timeout, token changes, split brain, every
// session rule and end path). actor_test.go runs the actor against
// centraltest, a fake central written from the protocol as the spec
// describes it (the real server's source is not public), a real pion
// producer (loopback only) and pion consumers that behave as the
// TypeScript SDK does (centraltest.Consumer): video RTP and data-channel
// replies end to end, every end reason (robot_busy_local, robot_busy,
// media_unavailable, local_app_started, ice_negotiation_timeout,
// peer_connection_failed, none for other producer ends), control-only
// sessions, eviction answered only after the teardown, stop, producer
// replaced, SSE loss, a crash in a session (kit.Crash), and, on an
// injected clock with no sleeps, the heartbeat cadence, the backoff
// schedule, a silent stream given up after 60 s and split brain; also
// that no token ever appears in a URL. cmd/reachyd/relay_test.go runs the
// whole daemon (GStreamer pipelines, real commands) through the fake
// central, and cmd/reachyd/browser_relay_test.go a headless Chromium
// through it (the fake answering CORS as a Space must for pages of other
// origins): a page of ours that speaks central's protocol as the
// TypeScript SDK does (testdata/browser/central.html; not the SDK's own
// code) decodes the video and moves the head on `data`. Not tested
// against the real central server or the TypeScript SDK itself.
package relay
