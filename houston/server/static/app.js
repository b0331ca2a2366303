// Houston dashboard, shared core: state, DOM helpers, formatting, the router and the event
// stream. One EventSource per tab, no polling: a snapshot comes from the JSON API with its
// `last_event_id` and the stream resumes right after it. The other scripts (list, mission,
// timeline, logs, extras) add their functions to `H`; start.js wires them up.
"use strict";

const H = {
  ui: {
    route: { view: "list", mission: null, task: null },
    list: { total: 0, missions: [] }, detail: null, lastId: -1, source: null, workers: 0,
    slots: new Map(), timers: new Map(), boardEventAt: 0, online: false,
  },
};

H.$ = (id) => document.getElementById(id);

H.el = function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
};

H.svg = function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
};

H.later = function later(key, fn, ms = 60) {   // coalesce bursts of events into one fetch
  if (H.ui.timers.has(key)) return;
  H.ui.timers.set(key, setTimeout(() => { H.ui.timers.delete(key); fn(); }, ms));
};

H.getJSON = async function getJSON(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    throw new Error(body.error ? `${body.error}${body.fix ? ` (${body.fix})` : ""}` : `${path}: ${answer.status}`);
  }
  return answer.json();
};

H.postJSON = async function postJSON(path, body) {
  const answer = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(`${data.error || answer.status}${data.fix ? ` (${data.fix})` : ""}`);
  return data;
};

// -- formatting -------------------------------------------------------------------------

H.parseTime = (text) => { const t = Date.parse(text || ""); return Number.isNaN(t) ? null : t; };

H.duration = function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "";
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
};

H.age = function age(ms) {
  const s = Math.max(0, ms / 1000);
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) return `${Math.floor(s / size)}${unit} ago`;
  }
  return `${Math.floor(s)}s ago`;
};

H.clock = (text) => {   // a local wall-clock time with milliseconds for start/end columns
  const t = H.parseTime(text);
  if (t === null) return "";
  const d = new Date(t);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, "0")}`;
};

H.money = (v) => `$${Number(v || 0).toFixed(4)}`;
H.tokens = (v) => Number(v || 0).toLocaleString("en-US");
H.mib = (bytes) => `${(Number(bytes || 0) / 1048576).toFixed(1)} MiB`;
H.shortId = (id) => String(id || "").slice(-4);

// -- errors -----------------------------------------------------------------------------

H.showError = function showError(text) {
  const box = H.$("m-error");
  box.textContent = text || "";
  box.hidden = !text;
};

// -- routing: #/ (list with its query), #/m/<id>, #/m/<id>/t/<task>, #/costs, #/run -----

H.parseRoute = function parseRoute(hash) {
  const [path, query = ""] = (hash || "").replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = Object.fromEntries(new URLSearchParams(query));
  if (parts[0] === "m" && parts[1]) return { view: "mission", mission: parts[1], task: parts[3] || null, params };
  if (parts[0] === "costs") return { view: "costs", params };
  if (parts[0] === "run") return { view: "run", params };
  return { view: "list", params };
};

H.missionHref = (id, task) =>
  `#/m/${encodeURIComponent(id)}${task ? `/t/${encodeURIComponent(task)}` : ""}`;

H.go = function go(hash) { if (location.hash !== hash) location.hash = hash; else H.route(); };

H.route = async function route() {
  const next = H.parseRoute(location.hash);
  const previous = H.ui.route;
  H.ui.route = next;
  H.$("mission").hidden = next.view !== "mission";
  H.$("costs").hidden = next.view !== "costs";
  H.$("run").hidden = next.view !== "run";
  H.$("list").hidden = next.view === "costs" || next.view === "run";
  for (const [id, view] of [["nav-missions", "list"], ["nav-costs", "costs"], ["nav-run", "run"]]) {
    H.$(id).setAttribute("aria-current", String(next.view === view || (view === "list" && next.view === "mission")));
  }
  if (next.view === "costs") return H.loadCosts();
  if (next.view === "run") return H.loadPackages();
  if (next.view === "list") H.readFilters(next.params);
  if (next.view !== "mission") { H.renderCards(); return; }
  const changed = previous.mission !== next.mission;
  if (changed || previous.task !== next.task) H.showError("");   // stale errors go
  await H.openMission(next.mission, next.task, changed);
};

// -- the stream -------------------------------------------------------------------------

H.onEvent = function onEvent(event) {
  const ui = H.ui;
  ui.lastId = event.id;
  if (event.type === "worker.state") return H.onWorker(event);
  if (event.type === "engine.state" || event.type === "mission.state") H.later("board", H.refreshAll);
  if (event.mission && ["task.state", "usage"].includes(event.type)) H.boardChanged();
  if (event.mission && ui.route.view === "mission" && event.mission === ui.route.mission) {
    H.onMissionEvent(event);
  }
};

// Cards show status.json's counts, which the engine writes at most every 0.5 s: read them
// after that, and once more if events kept coming, so the last change is never missed.
H.STATUS_EVERY_MS = 600;

H.boardChanged = function boardChanged() {
  H.ui.boardEventAt = performance.now();
  H.later("board", H.refreshAfterEvents, H.STATUS_EVERY_MS);
};

H.refreshAfterEvents = async function refreshAfterEvents() {
  const started = performance.now();
  await H.refreshAll();
  if (started - H.ui.boardEventAt < H.STATUS_EVERY_MS) H.later("board", H.refreshAfterEvents, H.STATUS_EVERY_MS);
};

H.refreshAll = async function refreshAll() {
  try { await H.loadList(); } catch (err) { return; }
  if (H.ui.route.view === "mission") await H.loadDetail();
};

H.setOnline = function setOnline(online, text) {
  H.ui.online = online;
  const conn = H.$("conn");
  conn.dataset.state = online ? "live" : "reconnecting";
  conn.textContent = text;
  H.$("mission").classList.toggle("offline", !online);   // grey out: figures may be stale
  H.$("mission").setAttribute("aria-busy", String(!online));
};

H.connect = function connect(since) {
  const source = new EventSource(`/events?since=${since}`);
  H.ui.source = source;
  source.onopen = () => {
    H.setOnline(true, "live");
    H.showError("");   // an error from before the reconnect is stale now
    H.later("board", H.refreshAll, 0);   // catch up on anything that moved while away
  };
  source.onerror = () => {
    H.setOnline(false, "reconnecting…");
    if (source.readyState === EventSource.CLOSED) {   // refused (e.g. a new token): retry slowly
      source.close();
      setTimeout(() => H.connect(H.ui.lastId), 5000);
    }
  };
  source.onmessage = (message) => H.onEvent(JSON.parse(message.data));
  source.addEventListener("missions", () => H.later("board", H.refreshAll));
  source.addEventListener("reset", () => H.later("board", H.refreshAll, 0));
};
