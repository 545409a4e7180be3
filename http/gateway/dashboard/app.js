// reachyd's dashboard: wires each card of index.html to the daemon's API.
// Everything goes through the public API (REST and WebSockets on this
// origin, the WebRTC signalling port for the camera), so the page is also
// an example of a client. Live parts reconnect by themselves when the
// daemon restarts; the badge at the top says "reconnecting" meanwhile.

import { $, el, api, request, act, announce, Stream, wsURL, every, deg, rad, fmt } from "./lib.js";
import { HeadView, eulerXYZ } from "./head.js";
import { Camera } from "./camera.js";

// What the page shows, also read by the tests (cmd/reachyd/dashboard_test.go).
const dash = window.dashboard = { frames: 0, firstStateMs: null, state: null, statusOK: false };

// ---- connection badge ------------------------------------------------------------

let daemonState = null;
let stateOpen = false;
function updateBadge() {
  const b = $("conn");
  let s = "live";
  if (!dash.statusOK) s = "reconnecting";
  else if (daemonState === "running" && !stateOpen) s = "reconnecting";
  else if (daemonState !== "running") s = "backend " + (daemonState || "unknown");
  if (b.textContent !== s) {
    b.textContent = s;
    b.dataset.state = s.startsWith("backend") ? "live" : s;
    announce("Connection: " + s);
  }
}

// ---- daemon status ---------------------------------------------------------------

async function refreshStatus() {
  let st;
  try {
    st = await api("GET", "/api/daemon/status");
  } catch {
    dash.statusOK = false;
    updateBadge();
    return;
  }
  if (!dash.statusOK) refreshApps(); // first answer, or back after a restart
  dash.statusOK = true;
  if (st.state !== daemonState && daemonState !== null) announce("Daemon " + st.state);
  daemonState = st.state;
  $("robot-name").textContent = st.robot_name || "Reachy Mini";
  document.title = (st.robot_name || "Reachy Mini") + " · reachyd";
  const pill = $("daemon-state");
  pill.textContent = st.state;
  pill.dataset.state = st.state;
  const bs = st.backend_status;
  $("backend-status").textContent = bs ? bs.motor_control_mode + (bs.error ? " · " + bs.error : "") : "backend not running";
  $("daemon-error").textContent = st.error || "none";
  const r = st.reachyd || {};
  $("backend-kind").textContent = (r.backend || "?") + " backend" + (st.wireless_version ? " · wireless" : "");
  const hz = r.runtime && r.runtime.mean_control_loop_frequency;
  $("loop-rate").textContent = hz ? hz.toFixed(1) + " Hz (target " + r.control_hz + " Hz)" : st.state === "running" ? "measuring…" : "stopped";
  updateBadge();
}

function daemonJob(label, path) {
  return () => act(label, async () => { await api("POST", path); setTimeout(refreshStatus, 300); });
}
$("daemon-start").addEventListener("click", () => daemonJob("Start", "/api/daemon/start?wake_up=" + $("start-wake").checked)());
$("daemon-stop").addEventListener("click", () => daemonJob("Stop", "/api/daemon/stop?goto_sleep=" + $("stop-sleep").checked)());
$("daemon-restart").addEventListener("click", daemonJob("Restart", "/api/daemon/restart"));

// ---- live state ------------------------------------------------------------------

const view = new HeadView({ front: $("svg-front"), side: $("svg-side"), top: $("svg-top") });
let drawPending = false;

const stateStream = new Stream(wsURL("/api/state/ws/full?frequency=20&use_pose_matrix=true"), {
  onState(s) { stateOpen = s === "open"; updateBadge(); },
  onMessage(text) {
    let s;
    try { s = JSON.parse(text); } catch { return; }
    if (!s.head_pose || !s.head_pose.m) return;
    dash.state = s;
    dash.frames++;
    if (dash.firstStateMs === null) dash.firstStateMs = performance.now();
    if (!slidersTouched) slidersFromState();
    if (!drawPending) {
      drawPending = true;
      requestAnimationFrame(draw);
    }
  },
});

function draw() {
  drawPending = false;
  const s = dash.state;
  if (!s) return;
  const p = eulerXYZ(s.head_pose.m);
  $("st-x").textContent = fmt(p.x * 1000);
  $("st-y").textContent = fmt(p.y * 1000);
  $("st-z").textContent = fmt(p.z * 1000);
  $("st-roll").textContent = fmt(deg(p.roll));
  $("st-pitch").textContent = fmt(deg(p.pitch));
  $("st-yaw").textContent = fmt(deg(p.yaw));
  $("st-body").textContent = fmt(deg(s.body_yaw));
  const a = s.antennas_position || [0, 0];
  $("st-ant-r").textContent = fmt(deg(a[0]));
  $("st-ant-l").textContent = fmt(deg(a[1]));
  $("st-frames").textContent = dash.frames;
  view.draw(s.head_pose.m, a, s.body_yaw);
}

// ---- control: sliders, streamed targets, goto -----------------------------------

// Each slider: id, label, min, max, step, unit; angles in degrees on
// screen and radians on the wire, positions in mm on screen, m on the wire.
const sliders = [
  ["x", "head x", -20, 20, 1, "mm"], ["y", "head y", -20, 20, 1, "mm"], ["z", "head z", -20, 20, 1, "mm"],
  ["roll", "head roll", -30, 30, 1, "°"], ["pitch", "head pitch", -30, 30, 1, "°"], ["yaw", "head yaw", -60, 60, 1, "°"],
  ["body", "body yaw", -160, 160, 1, "°"], ["ant-r", "right antenna", -180, 180, 1, "°"], ["ant-l", "left antenna", -180, 180, 1, "°"],
];
for (const [id, label, min, max, step, unit] of sliders) {
  const input = el("input", { type: "range", id: "sl-" + id, min, max, step, value: 0 });
  const out = el("output", { for: "sl-" + id, id: "sl-" + id + "-out" }, "0 " + unit);
  input.setAttribute("aria-valuetext", "0 " + unit);
  input.addEventListener("input", () => {
    showSlider(id);
    slidersTouched = true;
    if ($("live-targets").checked) targetDirty = true;
  });
  $("slider-list").append(el("div", { class: "sl" }, el("label", { for: "sl-" + id }, label), input, out));
}
let slidersTouched = false;
let targetDirty = false;

// showSlider writes a slider's value with its unit, on screen and for
// screen readers (aria-valuetext).
function showSlider(id) {
  const input = $("sl-" + id);
  const text = input.value + " " + sliders.find((s) => s[0] === id)[5];
  $("sl-" + id + "-out").textContent = text;
  input.setAttribute("aria-valuetext", text);
}

function setSlider(id, v) {
  $("sl-" + id).value = Math.round(v);
  showSlider(id);
}

function slidersFromState() {
  const s = dash.state;
  if (!s) return;
  const p = eulerXYZ(s.head_pose.m);
  setSlider("x", p.x * 1000); setSlider("y", p.y * 1000); setSlider("z", p.z * 1000);
  setSlider("roll", deg(p.roll)); setSlider("pitch", deg(p.pitch)); setSlider("yaw", deg(p.yaw));
  setSlider("body", deg(s.body_yaw || 0));
  const a = s.antennas_position || [0, 0];
  setSlider("ant-r", deg(a[0])); setSlider("ant-l", deg(a[1]));
}
$("sync-sliders").addEventListener("click", () => { slidersFromState(); announce("Sliders set from the robot"); });

const v = (id) => Number($("sl-" + id).value);
function target() {
  return {
    head_pose: { x: v("x") / 1000, y: v("y") / 1000, z: v("z") / 1000, roll: rad(v("roll")), pitch: rad(v("pitch")), yaw: rad(v("yaw")) },
    antennas: [rad(v("ant-r")), rad(v("ant-l"))],
    body_yaw: rad(v("body")),
  };
}

// Streamed targets: the newest slider values, at most 20 a second, on
// WS /api/move/ws/set_target (which answers only errors).
const targetStream = new Stream(wsURL("/api/move/ws/set_target"), {
  onMessage(text) {
    try { announce("Target refused: " + JSON.stringify(JSON.parse(text).detail).slice(0, 200)); } catch { /* ignore */ }
  },
});
setInterval(() => {
  if (!targetDirty) return;
  const t = target();
  if (targetStream.send(JSON.stringify({ target_head_pose: t.head_pose, target_antennas: t.antennas, target_body_yaw: t.body_yaw }))) targetDirty = false;
}, 50);

$("goto-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const t = target();
  act("Go to", () => api("POST", "/api/move/goto", { ...t, duration: Number($("goto-duration").value), interpolation: $("goto-interp").value }));
});
// Wake up turns the motors on first, as the desktop app does (a robot
// with its motors off would not move).
$("wake-up").addEventListener("click", () => act("Wake up", async () => {
  await api("POST", "/api/motors/set_mode/enabled");
  return api("POST", "/api/move/play/wake_up");
}));
$("go-sleep").addEventListener("click", () => act("Go to sleep", () => api("POST", "/api/move/play/goto_sleep")));
$("stop-moves").addEventListener("click", () => act("Stop moves", async () => {
  const running = await api("GET", "/api/move/running");
  await Promise.all(running.map((m) => api("POST", "/api/move/stop", { uuid: m.uuid }).catch(() => {})));
}));

new Stream(wsURL("/api/move/ws/updates"), {
  onMessage(text) {
    try {
      const m = JSON.parse(text);
      $("move-event").textContent = m.type + (m.details ? " (" + m.details + ")" : "");
    } catch { /* not JSON */ }
  },
});

// ---- motors ----------------------------------------------------------------------

async function refreshMotors() {
  let st;
  try { st = await api("GET", "/api/motors/status"); } catch (e) {
    $("motor-rows").replaceChildren(el("tr", {}, el("td", { colspan: 6 }, e.message)));
    return;
  }
  for (const r of document.querySelectorAll("input[name=motor-mode]")) r.checked = r.value === st.mode;
  $("motor-rows").replaceChildren(...(st.motors || []).map((m) => {
    const errs = (m.hardware_error || []).join(", ");
    return el("tr", {},
      el("td", {}, m.name), el("td", {}, String(m.id)),
      el("td", { class: m.answering ? "" : "bad" }, m.answering ? "yes" : "no"),
      el("td", {}, fmt(m.temperature, 0)), el("td", {}, fmt(m.voltage, 1)),
      el("td", { class: errs ? "bad" : "" }, errs || "none"));
  }));
}
for (const r of document.querySelectorAll("input[name=motor-mode]")) {
  r.addEventListener("change", () => act("Motors " + r.value, () => api("POST", "/api/motors/set_mode/" + r.value)).then(refreshMotors));
}
$("motor-reboot").addEventListener("click", () => act("Reboot motors", () => api("POST", "/api/motors/reboot")).then(refreshMotors));

// ---- recorded moves --------------------------------------------------------------

$("dataset-load").addEventListener("click", async () => {
  const ds = $("dataset").value;
  $("moves-msg").textContent = "listing…";
  try {
    const moves = await api("GET", "/api/move/recorded-move-datasets/list/" + ds);
    $("move-name").replaceChildren(...moves.map((m) => el("option", { value: m }, m)));
    $("move-name").disabled = $("move-play").disabled = moves.length === 0;
    $("moves-msg").textContent = moves.length + " moves";
  } catch (e) {
    $("moves-msg").textContent = e.message;
  }
});
$("move-play").addEventListener("click", () => act("Play " + $("move-name").value, () =>
  api("POST", "/api/move/play/recorded-move-dataset/" + $("dataset").value + "/" + encodeURIComponent($("move-name").value))));

// ---- apps ------------------------------------------------------------------------

// An install job's log has no percentage: the bar moves by the steps the
// app store logs, and reaches 100 % when the job is done.
const installSteps = [
  [/^Downloading|^Copying|^Extracting/, 20], [/^Space found/, 35], [/^Downloaded files/, 55],
  [/^Creating virtual environment|^Installing executable app/, 65], [/^Installing .* with its dependencies/, 75],
  [/^Successfully installed/, 95],
];

function watchJob(id, { log, onLine, onEnd }) {
  const ws = new WebSocket(wsURL("/api/apps/ws/apps-manager/" + encodeURIComponent(id)));
  ws.onmessage = (ev) => {
    let m = null;
    try { m = JSON.parse(ev.data); } catch { /* a log line */ }
    if (m && typeof m === "object" && "status" in m) {
      if (m.status === "done" || m.status === "failed") onEnd(m.status);
      return;
    }
    if (m && m.error) { onEnd("failed"); return; }
    log.textContent += ev.data + "\n";
    log.scrollTop = log.scrollHeight;
    if (onLine) onLine(ev.data);
  };
  return ws;
}

function install(info) {
  act("Install " + info.name, async () => {
    // The curated list's apps are Hugging Face spaces, installed as such.
    const body = info.source_kind === "dashboard_selection" ? { ...info, source_kind: "hf_space" } : info;
    const { job_id } = await api("POST", "/api/apps/install", body);
    const bar = $("job-progress");
    bar.value = 5;
    $("job-log").textContent = "";
    $("job-status").textContent = "installing " + info.name + "…";
    watchJob(job_id, {
      log: $("job-log"),
      onLine(line) {
        for (const [re, pct] of installSteps) if (re.test(line) && bar.value < pct) bar.value = pct;
      },
      onEnd(status) {
        if (status === "done") bar.value = 100;
        $("job-status").textContent = info.name + ": " + (status === "done" ? "installed" : "install failed");
        announce(info.name + (status === "done" ? " installed" : " install failed"));
        refreshApps();
      },
    });
  });
}

function remove(name) {
  act("Remove " + name, async () => {
    const { job_id } = await api("POST", "/api/apps/remove/" + encodeURIComponent(name));
    $("job-log").textContent = "";
    $("job-status").textContent = "removing " + name + "…";
    watchJob(job_id, {
      log: $("job-log"),
      onEnd(status) {
        $("job-status").textContent = name + ": " + (status === "done" ? "removed" : "removal failed");
        announce($("job-status").textContent);
        refreshApps();
      },
    });
  });
}

async function refreshApps() {
  let apps;
  try { apps = await api("GET", "/api/apps/list-available"); } catch (e) {
    $("apps-catalogue").replaceChildren(el("li", {}, e.message));
    return;
  }
  const installed = apps.filter((a) => a.source_kind === "installed");
  const names = new Set(installed.map((a) => a.name));
  $("apps-installed").replaceChildren(...(installed.length ? installed.map((a) => el("li", { "data-app": a.name },
    el("span", { class: "name" }, a.name), el("span", { class: "desc" }, a.description || ""),
    el("button", { type: "button", "aria-label": "Start " + a.name, onclick: () => act("Start " + a.name, () => api("POST", "/api/apps/start-app/" + encodeURIComponent(a.name))).then(refreshCurrentApp) }, "Start"),
    el("button", { type: "button", class: "danger", "aria-label": "Remove " + a.name, onclick: () => remove(a.name) }, "Remove"),
  )) : [el("li", {}, "none")]));
  const catalogue = apps.filter((a) => a.source_kind !== "installed");
  $("apps-catalogue").replaceChildren(...(catalogue.length ? catalogue.map((a) => el("li", { "data-app": a.name },
    el("span", { class: "name" }, a.name), el("span", { class: "desc" }, a.description || ""),
    el("button", { type: "button", "aria-label": "Install " + a.name, disabled: names.has(a.name), onclick: () => install(a) }, names.has(a.name) ? "Installed" : "Install"),
  )) : [el("li", {}, "the catalogue is empty or cannot be reached")]));
}

let appJob = null, appLogWS = null;
async function refreshCurrentApp() {
  let st;
  try { st = await api("GET", "/api/apps/current-app-status"); } catch { return; }
  $("app-current").textContent = st ? st.info.name + " (" + st.state + (st.error ? ": " + st.error : "") + ")" : "none";
  $("app-stop").disabled = !st;
  const job = st && st.reachyd && st.reachyd.job_id;
  if (job && job !== appJob) {
    appJob = job;
    if (appLogWS) appLogWS.close();
    $("app-log").textContent = "";
    appLogWS = watchJob(job, { log: $("app-log"), onEnd: () => {} });
  }
}
$("app-stop").addEventListener("click", () => act("Stop app", () => api("POST", "/api/apps/stop-current-app")).then(refreshCurrentApp));

// ---- media: camera and volume ----------------------------------------------------

let media = null, camera = null;
const token = () => sessionStorage.getItem("reachyd.token");

async function refreshMedia() {
  try { media = await api("GET", "/api/media/status"); } catch { return; }
  const off = media.no_media || !media.available;
  // Without WebRTC, the MJPEG camera (signed in only) is there when its
  // status route answers.
  let mjpeg = false;
  if (off && token()) {
    try { await authed("GET", "/api/v1/video/status"); mjpeg = true; } catch { /* no camera */ }
  }
  if (!camera && !$("cam-img").src && !$("media-state").dataset.sticky) {
    $("media-state").textContent = !off ? "Camera ready (WebRTC)."
      : (media.no_media ? "WebRTC, microphone and speaker unavailable: this daemon runs without media (no_media)."
        : "Media released by an app.") + (mjpeg ? " The camera is shown over MJPEG." : token() ? " No camera." : " Sign in (Skills) for the camera over MJPEG.");
  }
  $("cam-start").disabled = !!camera || !!$("cam-img").src || (off && !mjpeg);
  for (const [id, path] of [["vol-speaker", "/api/volume/current"], ["vol-mic", "/api/volume/microphone/current"]]) {
    const input = $(id);
    if (document.activeElement === input) continue;
    try {
      const r = await api("GET", path);
      input.value = r.volume;
      input.disabled = false;
      $(id + "-out").textContent = r.volume + " %";
    } catch {
      input.disabled = true;
      $(id + "-out").textContent = "unavailable";
    }
  }
}

// startMJPEG shows /api/v1/video/head_color.mjpg, which needs a token (an
// <img> cannot send headers: the token goes in the query).
function startMJPEG(why) {
  const img = $("cam-img");
  img.onload = () => { $("media-state").textContent = why + "camera: live (MJPEG)"; announce($("media-state").textContent); img.onload = null; };
  img.onerror = () => stopCamera("No camera image (no camera, or the sign-in expired).");
  img.src = "/api/v1/video/head_color.mjpg?token=" + encodeURIComponent(token());
  img.hidden = false;
  $("cam-stop").disabled = false;
}
for (const [id, path] of [["vol-speaker", "/api/volume/set"], ["vol-mic", "/api/volume/microphone/set"]]) {
  $(id).addEventListener("input", () => { $(id + "-out").textContent = $(id).value + " %"; });
  $(id).addEventListener("change", () => act("Volume", () => api("POST", path, { volume: Number($(id).value) })));
}

function signallingURL() {
  const sig = media && media.reachyd && media.reachyd.media && media.reachyd.media.signalling;
  const port = sig ? sig.slice(sig.lastIndexOf(":") + 1) : "8443";
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.hostname + ":" + port;
}

$("cam-start").addEventListener("click", () => {
  if (!media) return; // enabled by refreshMedia, which sets it
  delete $("media-state").dataset.sticky;
  $("cam-start").disabled = true;
  $("cam-stop").disabled = false;
  if (media && (media.no_media || !media.available)) {
    startMJPEG("");
    return;
  }
  camera = new Camera(signallingURL(), $("cam-video"), {
    onState: (s) => { $("media-state").textContent = s; announce(s); },
    onFail(reason) {
      camera = null;
      if (token()) {
        startMJPEG("WebRTC failed (" + reason + "): ");
      } else {
        stopCamera("WebRTC failed (" + reason + "). Sign in (Skills) for the camera over MJPEG.");
      }
    },
  });
  camera.start();
});

// stopCamera ends both ways of showing the camera and says why.
function stopCamera(why) {
  const state = $("media-state");
  state.textContent = why;
  state.dataset.sticky = "1";
  announce(why);
  if (camera) camera.stop();
  camera = null;
  const img = $("cam-img");
  img.onload = img.onerror = null;
  img.removeAttribute("src");
  img.hidden = true;
  $("cam-stop").disabled = true;
  refreshMedia();
}
$("cam-stop").addEventListener("click", () => stopCamera("Camera stopped."));

// ---- skills (signed in with an API key) ------------------------------------------

// authed calls the skills API with the token; a rolled token in the
// answer's Authorization header replaces ours (the old one stays valid).
async function authed(method, path, body) {
  const r = await request(method, path, body, { Authorization: "Bearer " + token() });
  const h = r.headers.get("Authorization");
  if (h && h.split(" ")[1]) sessionStorage.setItem("reachyd.token", h.split(" ")[1]);
  return r.data;
}

function showSignedIn(on) {
  $("login").hidden = on;
  $("skills-body").hidden = !on;
  if (on) {
    $("key-client").textContent = sessionStorage.getItem("reachyd.client") || "?";
    $("key-level").textContent = sessionStorage.getItem("reachyd.level") || "?";
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("GET", "/api/v1/auth/", undefined, { "X-API-Key": $("api-key").value.trim() });
    sessionStorage.setItem("reachyd.token", r.token);
    sessionStorage.setItem("reachyd.client", r.client_id);
    sessionStorage.setItem("reachyd.level", r.access_level);
    $("api-key").value = "";
    announce("Signed in");
    showSignedIn(true);
    refreshSkills();
    refreshMedia();
  } catch (e) {
    announce(e.status === 404 ? "This daemon has no skills API" : "Sign-in failed: " + e.message);
  }
});
$("logout").addEventListener("click", () => {
  for (const k of ["reachyd.token", "reachyd.client", "reachyd.level"]) sessionStorage.removeItem(k);
  showSignedIn(false);
  announce("Signed out");
  refreshMedia();
});

async function refreshSkills() {
  if (!token()) return;
  try {
    const skills = (await authed("GET", "/api/v1/get/get_skills")).result || {};
    const names = Array.isArray(skills) ? skills.map((s) => s.name || String(s)) : Object.keys(skills);
    $("skills-list").replaceChildren(...names.sort().map((n) => el("li", {},
      el("span", { class: "name" }, n),
      el("button", { type: "button", "aria-label": "Run " + n, onclick: () => act("Run " + n, async () => {
        const r = (await authed("POST", "/api/v1/dict/", { command: "skill", value: { name: n } })).result;
        $("skills-msg").textContent = n + ": " + (r.called ? "started (mission " + r.msg + ")" : r.msg);
      }) }, "Run"))));
    const files = (await authed("GET", "/api/v1/skill/list/")).skills || [];
    $("skill-files").replaceChildren(...(files.length ? files.map((f) => el("li", {},
      el("span", { class: "name" }, f.name), el("span", { class: "desc" }, f.enabled ? "enabled" : "disabled"),
      el("button", { type: "button", "aria-label": (f.enabled ? "Disable " : "Enable ") + f.name, onclick: () => act("Skill file", () =>
        authed("PATCH", "/api/v1/skill/enable/", { command: f.name, value: !f.enabled })).then(refreshSkills) }, f.enabled ? "Disable" : "Enable"),
    )) : [el("li", {}, "none")]));
  } catch (e) {
    if (e.status === 401) { $("logout").click(); announce("Signed out: " + e.message); return; }
    $("skills-msg").textContent = e.message;
  }
}

// ---- start -----------------------------------------------------------------------

showSignedIn(!!token());
every(2000, refreshStatus);
every(2000, refreshMotors);
every(2000, refreshCurrentApp);
every(5000, refreshMedia);
refreshSkills();
