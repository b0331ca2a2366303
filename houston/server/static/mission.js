// One mission: why it ended, failed tasks with their stderr, budget, the N+1 slots, the
// task grid with elapsed times, a task's attempts, the transition history, and actions.
"use strict";

H.VERBS = {   // which actions apply; retry only to a mission that did not succeed
  PLANNING: ["approve", "reject", "cancel"], COMMITTED: ["cancel"], EXECUTING: ["cancel"],
};
H.CONFIRM = {
  cancel: "Cancel this mission? Running tasks are stopped.",
  reject: "Reject this mission? It will not run.",
};

H.openMission = async function openMission(id, task, changed) {
  if (changed) {
    H.ui.detail = null; H.ui.slots = new Map(); H.ui.series = {}; H.ui.tools = [];
    H.$("output-view").hidden = true;
  }
  H.ui.task = task;
  await H.loadDetail();
  if (!H.ui.detail) return;
  H.renderCards();
  await Promise.all([H.loadLog(), changed ? H.loadMissionEvents() : null,
    changed ? H.loadProduced() : null]);
};

H.loadDetail = async function loadDetail() {
  const id = H.ui.route.mission;
  if (!id) return;
  let detail;
  try { detail = await H.getJSON(`/api/missions/${encodeURIComponent(id)}`); }
  catch (err) { H.showError(String(err.message || err)); return; }
  if (id !== H.ui.route.mission) return;   // the user moved on meanwhile
  H.ui.detail = detail;
  H.renderDetail();
};

H.renderDetail = function renderDetail() {
  const d = H.ui.detail;
  H.$("m-name").textContent = d.name || d.id;
  H.$("m-id").textContent = d.id;
  H.$("m-state").textContent = d.state;
  H.$("m-outcome").textContent = d.outcome || "";
  H.$("m-outcome").className = `badge s-${d.outcome || ""}`;
  H.$("m-times").textContent = H.missionTimes(d);
  const allowed = d.state === "COMPLETED" ? (d.outcome === "succeeded" ? [] : ["retry"]) : H.VERBS[d.state] || [];
  for (const button of document.querySelectorAll(".actions button")) {
    button.disabled = !allowed.includes(button.dataset.verb);
    button.hidden = !allowed.includes(button.dataset.verb);
  }
  H.renderEnd(d);
  H.renderFailures(d.failures || []);
  H.renderGauges(d);
  H.renderTasks(d.tasks || []);
  H.renderSlots(d);
  H.renderAttempts(d);
  H.renderTransitions(d.transitions || []);
  H.renderTimeline(d);
};

H.missionTimes = function missionTimes(d) {
  const parts = [];
  if (d.created) parts.push(`created ${H.clock(d.created)}`);
  if (d.started) parts.push(`started ${H.clock(d.started)}`);
  if (d.finished) parts.push(`finished ${H.clock(d.finished)}`);
  return parts.length ? `· ${parts.join(" · ")}` : "";
};

H.renderEnd = function renderEnd(d) {
  const box = H.$("m-end");
  const end = d.end;
  box.hidden = !end && !d.cancel_requested;
  box.className = `end s-${d.outcome || "running"}`;
  if (end) box.textContent = `${end.text}${end.at ? ` — at ${H.clock(end.at)}` : ""}`;
  else if (d.cancel_requested) box.textContent = `Cancel requested by ${d.cancel_by || "someone"}; stopping…`;
};

H.renderFailures = function renderFailures(failures) {
  H.$("failures").replaceChildren(...failures.map((f) => H.el("details", { class: "failure", open: "", "data-task": f.task },
    H.el("summary", {}, H.el("b", {}, `${f.task} failed`), ` (attempt ${f.attempt}${f.code != null ? `, exit code ${f.code}` : ""}): `,
      H.el("span", { class: "error-text" }, f.error || f.reason || "no error recorded")),
    f.stderr ? H.el("pre", { class: "stderr", tabindex: "0", "aria-label": `stderr of ${f.task}` }, f.stderr)
      : H.el("p", { class: "muted" }, "(no stderr)"))));
};

H.wallTime = function wallTime(d) {   // status.json's figure, or the clock's while the mission runs
  const saved = (d.usage || {}).wall_time || 0;
  const started = H.parseTime(d.started);
  if (d.state !== "EXECUTING" || started === null) return saved;
  return Math.max(saved, (Date.now() - started) / 1000);
};

H.renderGauges = function renderGauges(d) {
  const usage = d.usage || {}, budget = d.budget || {};
  const rows = [
    ["Tokens", usage.tokens || 0, budget.max_tokens, (v) => H.tokens(Math.round(v))],
    ["Cost", usage.cost || 0, budget.max_cost, (v) => `$${Number(v).toFixed(3)}`],
    ["Wall time", H.wallTime(d), budget.max_wall_time, (v) => `${Number(v).toFixed(1)} s`],
  ];
  H.$("gauges").replaceChildren(...rows.map(([label, used, limit, fmt]) => {
    const meter = H.el("meter", { min: "0", max: String(limit || Math.max(used, 1)),
      value: String(used), high: String((limit || Infinity) * 0.8), "aria-label": label });
    return H.el("div", { class: "gauge" }, H.el("span", {}, label), meter,
      H.el("span", { class: "muted" }, limit ? `${fmt(used)} / ${fmt(limit)}` : `${fmt(used)} (no limit)`));
  }));
};

H.taskTime = function taskTime(t, attempts) {   // elapsed for running tasks, else duration
  if (t.state === "running") {
    const mine = attempts.filter((a) => a.task === t.id && a.reason === "running");
    const since = mine.length ? H.parseTime(mine[mine.length - 1].started) : null;
    return since !== null ? `${H.duration((Date.now() - since) / 1000)} so far` : "running";
  }
  return t.duration != null ? H.duration(Number(t.duration)) : "";
};

H.taskSpend = function taskSpend(t, attempts) {   // tokens (in · out), cost and model(s)
  if (!(t.usage && (t.usage.tokens || t.usage.cost))) return "";
  const mine = attempts.filter((a) => a.task === t.id);
  const sum = (key) => mine.reduce((n, a) => n + (Number(a[key]) || 0), 0);
  const split = mine.some((a) => a.input_tokens != null)
    ? ` (${H.tokens(sum("input_tokens"))} in · ${H.tokens(sum("output_tokens"))} out)` : "";
  const models = [...new Set(mine.map((a) => a.model).filter(Boolean))];
  return `${H.tokens(t.usage.tokens)} tok${split} · ${H.money(t.usage.cost)}`
    + (models.length ? ` · ${models.join(", ")}` : "");
};

H.renderTasks = function renderTasks(tasks) {
  const attempts = (H.ui.detail && H.ui.detail.attempts) || [];
  const id = H.ui.route.mission;
  H.$("tasks").replaceChildren(...tasks.map((t) => {
    const spend = H.taskSpend(t, attempts);
    const chosen = H.ui.task === t.id;
    const name = H.el("a", { href: chosen ? H.missionHref(id) : H.missionHref(id, t.id),
      "aria-current": String(chosen) }, t.id);
    const gate = t.state === "waiting" ? H.el("span", { class: "gate" },   // a task at its gate
      H.el("button", { type: "button", class: "link", onclick: () => H.actTask(t.id, "approve") }, "approve"), " ",
      H.el("button", { type: "button", class: "link danger", onclick: () => H.actTask(t.id, "reject") }, "reject")) : null;
    return H.el("tr", { "data-task": t.id, class: chosen ? "chosen" : "" },
      H.el("td", {}, name, t.initializer ? " (+1)" : ""),
      H.el("td", { class: `s-${t.state}` }, t.state, gate ? " " : null, gate),
      H.el("td", {}, `${t.attempt ?? 0}${t.attempts > 1 ? ` (${t.attempts} tries)` : ""}`),
      H.el("td", { class: "elapsed" }, H.taskTime(t, attempts)),
      H.el("td", {}, spend));
  }));
};

H.renderAttempts = function renderAttempts(d) {
  const task = H.ui.task;
  H.$("attempts-box").hidden = !task;
  if (!task) return;
  H.$("attempts-task").textContent = task;
  const rows = (d.attempts || []).filter((a) => a.task === task);
  H.$("attempts").replaceChildren(...rows.map((a) => {
    const running = a.reason === "running";
    const took = running ? `${H.duration((Date.now() - (H.parseTime(a.started) || Date.now())) / 1000)} so far`
      : H.duration(a.duration);
    const pick = H.el("button", { type: "button", class: "link", "aria-pressed": String(H.ui.attempt === a.attempt),
      onclick: () => H.pickAttempt(a.attempt) }, `#${a.attempt}`);
    return H.el("tr", { "data-attempt": String(a.attempt) },
      H.el("td", {}, pick),
      H.el("td", { class: `s-${a.reason}` }, a.reason + (a.error ? `: ${a.error}` : "")),
      H.el("td", {}, a.worker == null ? "" : a.worker === 0 ? "+1" : `worker ${a.worker}`),
      H.el("td", {}, H.clock(a.started)), H.el("td", {}, H.clock(a.finished)),
      H.el("td", { class: running ? "elapsed" : "" }, took));
  }));
};

H.renderTransitions = function renderTransitions(transitions) {
  H.$("transitions").replaceChildren(...transitions.map((t) => {
    const by = t.detail && t.detail.by ? ` by ${t.detail.by}` : "";
    return H.el("li", {}, H.el("time", { datetime: t.ts }, H.clock(t.ts)), " ",
      `${t.from || "·"} → ${t.to}`, H.el("span", { class: "muted" }, ` ${t.reason}${t.outcome ? ` (${t.outcome})` : ""}${by}`));
  }));
};

H.renderSlots = function renderSlots(d) {
  const running = (d.tasks || []).filter((t) => t.state === "running");
  const init = running.find((t) => t.initializer);
  const workers = running.filter((t) => !t.initializer);
  // Slot 0 is the engine's initializer slot (the "+1"); slots 1..N are the workers.
  const known = [...H.ui.slots.keys()].filter((s) => s > 0).sort((a, b) => a - b);
  const n = Math.max(Math.min((d.budget || {}).max_concurrency || Infinity, H.ui.workers),
    known.length, workers.length, 1);
  const numbers = known.length >= n ? known : [...Array(n).keys()].map((i) => i + 1);
  const spare = workers.filter((t) => !numbers.includes(t.worker));
  const first = H.ui.slots.get(0);
  const initTask = init ? init.id : first && first.busy && first.mission === d.id ? first.task : null;
  const initLabel = initTask || (first && first.busy ? "busy (other mission)" : "idle");
  const slots = [H.el("li", { class: "slot", "data-busy": String(Boolean(initTask)) },
    H.el("b", {}, "+1 initializer"), String(initLabel))];
  for (const number of numbers) {
    const seen = H.ui.slots.get(number);
    const mine = seen && seen.busy && seen.mission === d.id ? seen.task : null;
    const task = (workers.find((t) => t.worker === number) || {}).id || mine ||
      (seen && seen.busy ? null : (spare.shift() || {}).id);
    const label = seen && seen.busy && !mine && !task ? "busy (other mission)" : task || "idle";
    slots.push(H.el("li", { class: "slot", "data-busy": String(Boolean(task)) },
      H.el("b", {}, `worker ${number}`), String(label)));
  }
  H.$("slots").replaceChildren(...slots);
};

H.onWorker = function onWorker(event) {   // slots are engine-wide; idle ones carry no mission
  const data = event.data || {};
  H.ui.slots.set(Number(data.slot ?? 0), { busy: data.state === "busy", task: event.task, mission: event.mission });
  if (H.ui.detail && H.ui.route.view === "mission") H.renderSlots(H.ui.detail);
};

H.onMissionEvent = function onMissionEvent(event) {
  if (event.type === "attempt.log" || event.type === "tool.call") return H.onLogEvent(event);
  if (event.type === "resource") return H.onResource(event);
  if (event.type === "blackboard") H.later("produced", H.loadProduced, 200);
  H.later("detail", H.loadDetail);
};

H.ask = function ask(text) {   // a modal <dialog>: keyboard reachable, Escape says no
  const dialog = H.$("confirm");
  H.$("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    H.$("confirm-no").focus();
  });
};

H.act = async function act(verb) {
  const id = H.ui.route.mission;
  if (!id) return;
  if (H.CONFIRM[verb] && !(await H.ask(H.CONFIRM[verb]))) return;
  H.showError("");
  try { await H.postJSON(`/api/missions/${encodeURIComponent(id)}/${verb}`); }
  catch (err) { H.showError(`${verb}: ${err.message || err}`); }
  H.later("board", H.refreshAll, 0);
};

H.actTask = async function actTask(task, verb) {   // gates inside a mission (gate: approve)
  const id = H.ui.route.mission;
  if (verb === "reject" && !(await H.ask(`Reject task ${task}? It will not run.`))) return;
  H.showError("");
  try { await H.postJSON(`/api/missions/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/${verb}`); }
  catch (err) { H.showError(`${verb} ${task}: ${err.message || err}`); }
  H.later("detail", H.loadDetail, 0);
};

H.tick = function tick() {   // elapsed times move with the clock, but not while offline
  if (H.ui.online && !document.hidden && (H.ui.list.missions || []).some((m) => m.state === "EXECUTING")) H.renderCards();
  const d = H.ui.detail;
  if (!d || d.state !== "EXECUTING" || document.hidden || !H.ui.online || H.ui.route.view !== "mission") return;
  H.renderGauges(d);
  for (const cell of document.querySelectorAll("#tasks tr")) {
    const t = (d.tasks || []).find((x) => x.id === cell.dataset.task);
    if (t && t.state === "running") cell.querySelector(".elapsed").textContent = H.taskTime(t, d.attempts || []);
  }
  H.renderTimeline(d);
};
