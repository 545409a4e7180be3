// The camera over WebRTC from the robot's producer, speaking the protocol
// of GStreamer's webrtcsink signalling server as reachyd serves it on its
// signalling port (media/webrtc/producer.go): welcome -> setPeerStatus
// (listener) -> peerStatusChanged for ourselves -> list -> startSession with
// the producer -> sessionStarted -> the robot's offer and candidates ->
// our answer and candidates; endSession ends it.

export class Camera {
  // url: ws://<robot>:<signalling port>; video: the <video> element;
  // onState(text) reports progress; onFail(reason) when it cannot play.
  constructor(url, video, { onState, onFail } = {}) {
    this.url = url;
    this.video = video;
    this.onState = onState || (() => {});
    this.onFail = onFail || (() => {});
    this.pc = null;
    this.session = null;
    this.myId = null;
    this.pendingICE = [];
  }

  start() {
    this.onState("connecting to the robot's camera…");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (ev) => this.handle(JSON.parse(ev.data)).catch((e) => this.fail(e.message));
    ws.onclose = () => { if (!this.stopped && !this.playing) this.fail("signalling closed"); };
    this.timer = setTimeout(() => { if (!this.playing) this.fail("no video within 15 s"); }, 15000);
  }

  send(msg) { if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg)); }

  async handle(msg) {
    switch (msg.type) {
      case "welcome":
        this.myId = msg.peerId;
        this.send({ type: "setPeerStatus", roles: ["listener"], meta: { name: "reachyd-dashboard" } });
        break;
      case "peerStatusChanged":
        if (msg.peerId === this.myId) this.send({ type: "list" });
        break;
      case "list": {
        if (this.asked) return; // one session per camera
        const p = (msg.producers || [])[0];
        if (!p) return this.fail("the robot offers no camera");
        this.asked = true;
        this.send({ type: "startSession", peerId: p.id });
        break;
      }
      case "sessionStarted":
        this.session = msg.sessionId;
        this.newPeer();
        break;
      case "peer":
        if (msg.sessionId !== this.session || !this.pc) return;
        if (msg.sdp) {
          await this.pc.setRemoteDescription(msg.sdp);
          const answer = await this.pc.createAnswer();
          await this.pc.setLocalDescription(answer);
          this.send({ type: "peer", sessionId: this.session, sdp: { type: "answer", sdp: answer.sdp } });
          for (const c of this.pendingICE.splice(0)) await this.pc.addIceCandidate(c);
        } else if (msg.ice) {
          if (this.pc.remoteDescription) await this.pc.addIceCandidate(msg.ice);
          else this.pendingICE.push(msg.ice);
        }
        break;
      case "endSession":
        if (msg.sessionId === this.session) this.fail("the robot ended the session" + (msg.reason ? " (" + msg.reason + ")" : ""));
        break;
      case "error":
        this.fail(msg.details || "signalling error");
        break;
    }
  }

  newPeer() {
    const pc = new RTCPeerConnection();
    this.pc = pc;
    pc.onicecandidate = (ev) => {
      if (ev.candidate) this.send({ type: "peer", sessionId: this.session, ice: ev.candidate.toJSON() });
    };
    pc.ontrack = (ev) => {
      if (ev.track.kind !== "video") return;
      this.video.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      this.video.hidden = false;
      this.video.onloadeddata = () => { this.playing = true; clearTimeout(this.timer); this.onState("camera: live (WebRTC)"); };
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed") this.fail("WebRTC connection failed");
    };
  }

  fail(reason) {
    if (this.failed || this.stopped) return;
    this.failed = true;
    this.close();
    this.onFail(reason);
  }

  close() {
    clearTimeout(this.timer);
    if (this.session) this.send({ type: "endSession", sessionId: this.session });
    if (this.pc) this.pc.close();
    if (this.ws) this.ws.close();
    this.video.srcObject = null;
    this.video.hidden = true;
  }

  stop() {
    this.stopped = true;
    this.close();
  }
}
