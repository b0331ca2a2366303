// Houston dashboard: one EventSource per tab, no polling. A snapshot comes from the JSON
// API with its `last_event_id`; the stream resumes right after it. EventSource reconnects
// by itself (Last-Event-ID), so a restarted server is picked up where the tab left off.
"use strict";

const STATES = ["PLANNING", "COMMITTED", "EXECUTING", "COMPLETED"];
const VERBS_BY_STATE = {
  PLANNING: ["approve", "reject", "cancel"], COMMITTED: ["cancel"],
  EXECUTING: ["cancel"], COMPLETED: ["retry"],
};
const LOG_LINES = 500;
const SPARK_POINTS = 60;

const ui = {
  missions: new Map(), selected: null, detail: null, task: null,
  lastId: -1, source: null, workers: 0, slots: new Map(), logLines: [],
  cpu: [], rss: [], timers: new Map(), boardEventAt: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function later(key, fn, ms = 60) {   // coalesce bursts of events into one fetch
  if (ui.timers.has(key)) return;
  ui.timers.set(key, setTimeout(() => { ui.timers.delete(key); fn(); }, ms));
}

async function getJSON(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.json();
}

// -- the board ------------------------------------------------------------------------

async function loadBoard() {
  const data = await getJSON("/api/missions");
  ui.missions = new Map(data.missions.map((m) => [m.id, m]));
  ui.workers = data.workers || 0;
  for (const state of STATES) $(`count-${state}`).textContent = data.counts[state] ?? 0;
  renderBoard();
  return data.last_event_id;
}

function renderBoard() {
  const focused = document.activeElement && document.activeElement.classList.contains("card")
    ? document.activeElement.dataset.id : null;   // keep keyboard focus across refreshes
  for (const state of STATES) $(`col-${state}`).replaceChildren();
  for (const m of ui.missions.values()) {
    const column = $(`col-${m.state}`);
    if (!column) continue;
    const counts = m.counts || {};
    const card = el("button", {
      type: "button", class: "card", "data-id": m.id,
      "aria-current": String(m.id === ui.selected), onclick: () => select(m.id),
    },
      el("span", { class: "name" }, m.name || m.id),
      el("span", { class: "meta" }, `${counts.succeeded ?? 0}/${counts.total ?? 0} tasks `),
      el("span", { class: `badge s-${m.outcome || ""}` }, m.outcome || ""));
    column.append(el("li", {}, card));
    if (m.id === focused) card.focus();
  }
}

// -- one mission ----------------------------------------------------------------------

async function select(id) {
  if (ui.selected !== id) {
    ui.selected = id; ui.task = null; ui.logLines = []; ui.cpu = []; ui.rss = [];
    ui.slots = new Map();
  }
  renderBoard();
  await loadDetail();
  await loadLog();
  $("mission").hidden = false;
}

async function loadDetail() {
  if (!ui.selected) return;
  try { ui.detail = await getJSON(`/api/missions/${ui.selected}`); }
  catch (err) { showError(String(err)); return; }
  renderDetail();
}

function renderDetail() {
  const d = ui.detail;
  $("m-name").textContent = d.name || d.id;
  $("m-id").textContent = d.id;
  $("m-state").textContent = d.state;
  $("m-outcome").textContent = d.outcome || "";
  $("m-outcome").className = `badge s-${d.outcome || ""}`;
  const allowed = VERBS_BY_STATE[d.state] || [];
  for (const button of document.querySelectorAll(".actions button")) {
    button.disabled = !allowed.includes(button.dataset.verb);
  }
  renderGauges(d);
  renderTasks(d.tasks || []);
  renderSlots(d);
}

function wallTime(d) {   // status.json's figure, or the clock's while the mission runs
  const saved = (d.usage || {}).wall_time || 0;
  const started = Date.parse(d.started || "");
  if (d.state !== "EXECUTING" || Number.isNaN(started)) return saved;
  return Math.max(saved, (Date.now() - started) / 1000);
}

function renderGauges(d) {
  const usage = d.usage || {}, budget = d.budget || {};
  const rows = [
    ["Tokens", usage.tokens || 0, budget.max_tokens, (v) => String(Math.round(v))],
    ["Cost", usage.cost || 0, budget.max_cost, (v) => `$${Number(v).toFixed(3)}`],
    ["Wall time", wallTime(d), budget.max_wall_time, (v) => `${Number(v).toFixed(1)} s`],
  ];
  $("gauges").replaceChildren(...rows.map(([label, used, limit, fmt]) => {
    const meter = el("meter", { min: "0", max: String(limit || Math.max(used, 1)),
      value: String(used), high: String((limit || Infinity) * 0.8), "aria-label": label });
    return el("div", { class: "gauge" }, el("span", {}, label), meter,
      el("span", { class: "muted" }, limit ? `${fmt(used)} / ${fmt(limit)}` : `${fmt(used)} (no limit)`));
  }));
}

function renderTasks(tasks) {
  $("tasks").replaceChildren(...tasks.map((t) => {
    const spend = t.usage ? `${t.usage.tokens || 0} tok · $${Number(t.usage.cost || 0).toFixed(3)}` : "";
    const name = el("button", { type: "button", onclick: () => pickTask(t.id),
      "aria-pressed": String(ui.task === t.id) }, t.id);
    return el("tr", { "data-task": t.id },
      el("td", {}, name, t.initializer ? " (+1)" : ""),
      el("td", { class: `s-${t.state}` }, t.state),
      el("td", {}, String(t.attempt ?? 0)),
      el("td", {}, t.duration != null ? `${Number(t.duration).toFixed(2)} s` : ""),
      el("td", {}, spend));
  }));
}

function renderSlots(d) {
  const running = (d.tasks || []).filter((t) => t.state === "running");
  const init = running.find((t) => t.initializer);
  const workers = running.filter((t) => !t.initializer);
  // Slot 0 is the engine's initializer slot (the "+1"); slots 1..N are the workers.
  const known = [...ui.slots.keys()].filter((s) => s > 0).sort((a, b) => a - b);
  const n = Math.max(Math.min((d.budget || {}).max_concurrency || Infinity, ui.workers),
    known.length, workers.length, 1);
  const numbers = known.length >= n ? known : [...Array(n).keys()].map((i) => i + 1);
  const spare = workers.filter((t) => !numbers.includes(t.worker));
  const first = ui.slots.get(0);
  const initTask = init ? init.id
    : first && first.busy && first.mission === d.id ? first.task : null;
  const initLabel = initTask || (first && first.busy ? "busy (other mission)" : "idle");
  const slots = [el("li", { class: "slot", "data-busy": String(Boolean(initTask)) },
    el("b", {}, "+1 initializer"), String(initLabel))];
  for (const number of numbers) {
    const seen = ui.slots.get(number);
    const mine = seen && seen.busy && seen.mission === d.id ? seen.task : null;
    const task = (workers.find((t) => t.worker === number) || {}).id || mine ||
      (seen && seen.busy ? null : (spare.shift() || {}).id);
    const label = seen && seen.busy && !mine && !task ? "busy (other mission)" : task || "idle";
    slots.push(el("li", { class: "slot", "data-busy": String(Boolean(task)) },
      el("b", {}, `worker ${number}`), String(label)));
  }
  $("slots").replaceChildren(...slots);
}

async function pickTask(task) {
  ui.task = ui.task === task ? null : task;
  ui.logLines = [];
  await loadLog();
  renderTasks((ui.detail && ui.detail.tasks) || []);
}

async function loadLog() {   // a task's whole log; for all tasks, the lines seen from now on
  $("log-title").textContent = ui.task ? `(${ui.task})`
    : "(all tasks, live from now; pick a task for its whole log)";
  if (ui.task && ui.selected) {
    try {
      const log = await getJSON(`/api/missions/${ui.selected}/tasks/${ui.task}/log`);
      ui.logLines = log.text.split("\n").filter((line) => line !== "");
    } catch (err) { showError(String(err)); }
  }
  renderLog();
}

function renderLog() {
  const pre = $("log");
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.textContent = ui.logLines.slice(-LOG_LINES).join("\n");
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

function renderSpark(id, values, label, fmt) {
  const svg = $(id);
  const max = Math.max(...values, 1e-9);
  const points = values.map((v, i) =>
    `${(i / Math.max(values.length - 1, 1)) * 120},${30 - (v / max) * 28 - 1}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  svg.replaceChildren(line);
  $(label).textContent = values.length ? fmt(values[values.length - 1]) : "";
}

function showError(text) {
  const box = $("m-error");
  box.textContent = text;
  box.hidden = !text;
}

async function act(verb) {
  if (!ui.selected) return;
  showError("");
  const answer = await fetch(`/api/missions/${ui.selected}/${verb}`, { method: "POST" });
  if (!answer.ok) {
    const body = await answer.json().catch(() => ({}));
    showError(`${verb}: ${body.error || answer.status}${body.fix ? ` (${body.fix})` : ""}`);
  }
  later("board", refreshBoard, 0);
  later("detail", loadDetail, 0);
}

// -- the stream -----------------------------------------------------------------------

function onEvent(event) {
  ui.lastId = event.id;
  if (event.type === "worker.state") return onWorker(event);
  if (event.type === "engine.state") later("board", refreshBoard);
  if (event.type === "mission.state") later("board", refreshBoard);
  if (event.mission && ["task.state", "usage"].includes(event.type)) boardChanged();
  if (event.mission && event.mission === ui.selected) onMissionEvent(event);
}

// Cards show status.json's counts, which the engine writes at most every 0.5 s: read them
// after that, and once more if events kept coming, so the last change is never missed.
const STATUS_EVERY_MS = 600;

function boardChanged() {
  ui.boardEventAt = performance.now();
  later("board", refreshBoardAfterEvents, STATUS_EVERY_MS);
}

async function refreshBoardAfterEvents() {
  const started = performance.now();
  await refreshBoard();
  if (started - ui.boardEventAt < STATUS_EVERY_MS) later("board", refreshBoardAfterEvents, STATUS_EVERY_MS);
}

function onMissionEvent(event) {
  const data = event.data || {};
  if (event.type === "attempt.log") {
    if (!ui.task || ui.task === event.task) {
      const lines = Array.isArray(data.lines) ? data.lines
        : String(data.line ?? data.text ?? JSON.stringify(data)).split("\n");
      const prefix = ui.task ? "" : `[${event.task}] `;
      for (const line of lines) if (line !== "") ui.logLines.push(prefix + line);
      if (ui.logLines.length > 2 * LOG_LINES) ui.logLines = ui.logLines.slice(-LOG_LINES);
      renderLog();
    }
  } else if (event.type === "resource") {
    ui.cpu = [...ui.cpu, Number(data.cpu || 0)].slice(-SPARK_POINTS);
    ui.rss = [...ui.rss, Number(data.rss || 0)].slice(-SPARK_POINTS);
    renderSpark("spark-cpu", ui.cpu, "cpu-now", (v) => `${v.toFixed(0)} %`);
    renderSpark("spark-rss", ui.rss, "rss-now", (v) => `${(v / 1048576).toFixed(1)} MiB`);
  } else {
    later("detail", loadDetail);
  }
}

function onWorker(event) {   // slots are engine-wide; idle ones carry no mission
  const data = event.data || {};
  ui.slots.set(Number(data.slot ?? 0), {
    busy: data.state === "busy", task: event.task, mission: event.mission });
  if (ui.detail) renderSlots(ui.detail);
}

async function refreshBoard() {
  try { await loadBoard(); } catch (err) { return; }
  if (ui.selected) await loadDetail();
}

function connect(since) {
  const source = new EventSource(`/events?since=${since}`);
  ui.source = source;
  const conn = $("conn");
  source.onopen = () => {
    conn.dataset.state = "live"; conn.textContent = "live";
    later("board", refreshBoard, 0);   // catch up on anything that moved while away
  };
  source.onerror = () => {
    conn.dataset.state = "reconnecting"; conn.textContent = "reconnecting…";
    if (source.readyState === EventSource.CLOSED) {   // refused (e.g. a new token): retry slowly
      source.close();
      setTimeout(() => connect(ui.lastId), 5000);
    }
  };
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  source.addEventListener("missions", () => later("board", refreshBoard));
  source.addEventListener("reset", () => later("board", refreshBoard, 0));
}

function tick() {   // the wall-time gauge of a running mission moves with the clock
  if (ui.detail && ui.detail.state === "EXECUTING" && !document.hidden) renderGauges(ui.detail);
}

async function start() {
  setInterval(tick, 1000);
  for (const button of document.querySelectorAll(".actions button")) {
    button.addEventListener("click", () => act(button.dataset.verb));
  }
  let since = -1;
  try { since = await loadBoard(); } catch (err) { $("conn").textContent = String(err); }
  connect(since);
}

start();
