// Small helpers shared by the dashboard's modules: REST calls, WebSockets
// that reconnect by themselves, the ARIA live region, DOM building.

export const $ = (id) => document.getElementById(id);

// el builds an element: el("li", {class: "x"}, "text", child...). Text is
// always set as text, never parsed as HTML.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) e.append(c);
  return e;
}

// announce says a short status sentence to screen readers (and keeps it
// visible to tests in #live).
export function announce(text) {
  const live = $("live");
  if (live) live.textContent = text;
}

export class APIError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

// api calls the daemon's REST API and returns the decoded JSON answer; an
// error answer throws APIError with the reference's "detail".
export async function api(method, path, body, headers = {}) {
  return (await request(method, path, body, headers)).data;
}

// request is api returning the answer's headers too: {data, headers}.
export async function request(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) throw new APIError(r.status, (data && data.detail) || text || r.statusText);
  return { data, headers: r.headers };
}

// act runs an action for a button: it announces success or the error.
export async function act(label, fn) {
  try {
    const r = await fn();
    announce(label + ": done");
    return r;
  } catch (e) {
    announce(label + " failed: " + e.message);
    return undefined;
  }
}

export function wsURL(path) {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
}

// Stream is a WebSocket that comes back by itself: after a close it
// reconnects with a backoff of 0.5 s doubling to 5 s (with jitter), until
// close() is called. onState gets "connecting", "open" or "reconnecting".
export class Stream {
  constructor(url, { onMessage, onState, onOpen } = {}) {
    this.url = url;
    this.onMessage = onMessage || (() => {});
    this.onState = onState || (() => {});
    this.onOpen = onOpen || (() => {});
    this.delay = 500;
    this.closed = false;
    this.ws = null;
    this.connect();
  }
  connect() {
    if (this.closed) return;
    this.onState(this.ws ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => { this.delay = 500; this.onState("open"); this.onOpen(ws); };
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws || this.closed) return;
      this.onState("reconnecting");
      const wait = this.delay * (0.75 + Math.random() / 2);
      this.delay = Math.min(this.delay * 2, 5000);
      this.timer = setTimeout(() => this.connect(), wait);
    };
    ws.onerror = () => {}; // the close that follows does the work
  }
  get open() { return this.ws && this.ws.readyState === WebSocket.OPEN; }
  send(text) {
    if (!this.open) return false;
    this.ws.send(text);
    return true;
  }
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
  }
}

// every runs fn now and then every ms milliseconds (fn may be async; runs
// do not overlap).
export function every(ms, fn) {
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try { await fn(); } catch { /* shown by fn itself */ } finally { busy = false; }
  };
  tick();
  return setInterval(tick, ms);
}

export const deg = (rad) => rad * 180 / Math.PI;
export const rad = (d) => d * Math.PI / 180;
export const fmt = (v, digits = 1) => (v == null || Number.isNaN(v) ? "–" : v.toFixed(digits));
