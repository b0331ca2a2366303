// Logs: a task's attempt (stdout and stderr, marked), or the whole mission's log; live lines
// from the stream with their time; tool calls inline; search, follow and download.
"use strict";

H.LOG_LINES = 5000;
H.ui.logLines = [];
H.ui.attempt = null;

H.pickAttempt = async function pickAttempt(number) {
  H.ui.attempt = H.ui.attempt === number ? null : number;
  await H.loadLog();
  if (H.ui.detail) H.renderAttempts(H.ui.detail);
};

H.latestAttempt = function latestAttempt(task) {
  const mine = ((H.ui.detail || {}).attempts || []).filter((a) => a.task === task);
  return mine.length ? Math.max(...mine.map((a) => a.attempt)) : null;
};

H.fetchText = async function fetchText(path) {
  const answer = await fetch(path);
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.text();
};

H.loadLog = async function loadLog() {
  const id = H.ui.route.mission, task = H.ui.task;
  if (!id) return;
  if (task && H.ui.attempt !== null && !((H.ui.detail || {}).attempts || []).some((a) => a.task === task && a.attempt === H.ui.attempt)) {
    H.ui.attempt = null;   // an attempt of another task
  }
  const attempt = task ? H.ui.attempt ?? H.latestAttempt(task) : null;
  H.$("log-title").textContent = task ? `(${task}${attempt ? `, attempt ${attempt}` : ""})` : "(whole mission)";
  // Live lines that arrive while the files are read are kept and put after them.
  const live = (H.ui.liveDuringLoad = []);
  try {
    const read = task ? await H.taskLines(id, task, attempt) : await H.missionLines(id);
    H.ui.logLines = [...read, ...live];
  } catch (err) { H.showError(String(err.message || err)); return; }
  finally { if (H.ui.liveDuringLoad === live) H.ui.liveDuringLoad = null; }
  H.ui.logKey = `${id}/${task || ""}/${attempt || ""}`;
  H.renderLog();
};

H.taskLines = async function taskLines(id, task, attempt) {
  if (!attempt) return [];
  const base = `/api/missions/${encodeURIComponent(id)}/tasks/${encodeURIComponent(task)}/log?attempt=${attempt}&tail=1048576`;
  const [out, err] = await Promise.all([H.getJSON(`${base}&stream=stdout`), H.getJSON(`${base}&stream=stderr`)]);
  const row = ((H.ui.detail || {}).attempts || []).find((a) => a.task === task && a.attempt === attempt) || {};
  const lines = [{ text: `── attempt ${attempt} started ${H.clock(row.started)} on ${H.laneName(row.worker)}`, stream: "mark" }];
  for (const [log, stream] of [[out, "stdout"], [err, "stderr"]]) {
    for (const text of log.text.split("\n")) if (text !== "") lines.push({ text, stream });
  }
  for (const tool of (H.ui.tools || []).filter((e) => e.task === task && e.attempt === attempt)) lines.push(H.toolLine(tool));
  if (row.finished) lines.push({ text: `── attempt ${attempt} ended ${H.clock(row.finished)}: ${row.reason}${row.error ? ` (${row.error})` : ""}`, stream: "mark" });
  return lines;
};

H.missionLines = async function missionLines(id) {
  const text = await H.fetchText(`/api/missions/${encodeURIComponent(id)}/log`);
  const lines = [];
  let current = null;
  const flushTools = (key) => {
    for (const tool of (H.ui.tools || []).filter((e) => `${e.task} #${e.attempt}` === key)) lines.push(H.toolLine(tool));
  };
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const match = /^\[([^\]]+?) #(\d+)( err| --)?\] /.exec(line);
    const key = match ? `${match[1]} #${match[2]}` : null;
    if (key !== current) { if (current) flushTools(current); current = key; }
    const stream = !match || !match[3] ? "stdout" : match[3] === " err" ? "stderr" : "mark";
    lines.push({ text: line, stream });
  }
  if (current) flushTools(current);
  return lines;
};

H.toolLine = function toolLine(event) {
  const d = event.data || {};
  const where = H.ui.task ? "" : `[${event.task} #${event.attempt} tool] `;
  return { text: `${where}⚙ ${d.tool || "tool"} ${d.summary || ""} → ${d.outcome || "?"}${d.duration_ms != null ? ` (${d.duration_ms} ms)` : ""}`,
    stream: "tool", ts: event.ts };
};

H.onLogEvent = function onLogEvent(event) {
  const task = H.ui.task;
  if (task && (event.task !== task || (H.ui.attempt !== null && event.attempt !== H.ui.attempt))) return;
  const before = H.ui.logLines.length;
  const stamp = new Date(Number(event.ts || 0) * 1000).toLocaleTimeString([], { hour12: false });
  if (event.type === "tool.call") {
    H.ui.tools = [...(H.ui.tools || []), event];
    const line = H.toolLine(event);
    H.ui.logLines.push({ ...line, text: `${stamp} ${line.text}` });
  } else {
    const data = event.data || {};
    const stream = data.stream === "stderr" ? "stderr" : "stdout";
    const lines = Array.isArray(data.lines) ? data.lines : String(data.line ?? data.text ?? "").split("\n");
    const prefix = task ? "" : `[${event.task} #${event.attempt}${stream === "stderr" ? " err" : ""}] `;
    for (const text of lines) if (text !== "") H.ui.logLines.push({ text: `${stamp} ${prefix}${text}`, stream });
  }
  if (H.ui.liveDuringLoad) H.ui.liveDuringLoad.push(...H.ui.logLines.slice(before));
  if (H.ui.logLines.length > 2 * H.LOG_LINES) H.ui.logLines = H.ui.logLines.slice(-H.LOG_LINES);
  H.later("log", H.renderLog, 50);
};

H.visibleLines = function visibleLines() {
  const stream = H.$("log-stream").value;
  const needle = H.$("log-search").value.trim().toLowerCase();
  return H.ui.logLines.filter((l) => (stream === "both" || l.stream === stream || l.stream === "mark" || l.stream === "tool")
    && (!needle || l.text.toLowerCase().includes(needle)));
};

H.renderLog = function renderLog() {
  const pre = H.$("log");
  const lines = H.visibleLines().slice(-H.LOG_LINES);
  pre.replaceChildren(...lines.map((l) => H.el("span", { class: `ln ln-${l.stream}` }, `${l.text}\n`)));
  const needle = H.$("log-search").value.trim();
  if (needle) pre.prepend(H.el("span", { class: "ln ln-mark" }, `${lines.length} lines match “${needle}”\n`));
  if (!lines.length) pre.textContent = "(no output)";
  if (H.$("log-follow").checked) pre.scrollTop = pre.scrollHeight;
};

H.downloadLog = function downloadLog(event) {   // what was loaded, all streams, unfiltered
  const link = event.currentTarget;
  const text = H.ui.logLines.map((l) => l.text).join("\n") + "\n";
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  link.download = `${H.ui.route.mission}${H.ui.task ? `-${H.ui.task}` : ""}.log`;
};
