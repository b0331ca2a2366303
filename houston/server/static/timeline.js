// Time and resources: a Gantt chart of the mission's attempts on the lanes of the N+1 pool
// (coloured by exit reason, retries as separate bars), and one CPU/RSS series per attempt,
// loaded from the event log for a finished mission and extended live while it runs.
"use strict";

H.SERIES_POINTS = 240;
H.SERIES_SHOWN = 8;
H.LANE = 22;

H.laneName = (w) => (w === 0 ? "+1 init" : w == null ? "?" : `worker ${w}`);

H.timelineRange = function timelineRange(d, attempts) {
  const starts = attempts.map((a) => H.parseTime(a.started)).filter((t) => t !== null);
  const ends = attempts.map((a) => H.parseTime(a.finished)).filter((t) => t !== null);
  const t0 = Math.min(...starts, H.parseTime(d.started) ?? Infinity);
  const running = attempts.some((a) => a.reason === "running") || d.state === "EXECUTING";
  const t1 = Math.max(...ends, H.parseTime(d.finished) ?? -Infinity, running ? Date.now() : -Infinity);
  return [t0, Math.max(t1, t0 + 1)];
};

H.renderTimeline = function renderTimeline(d) {
  const box = H.$("timeline");
  const attempts = (d.attempts || []).filter((a) => H.parseTime(a.started) !== null);
  if (!attempts.length) { box.replaceChildren(H.el("p", { class: "muted" }, "No attempt has started yet.")); return; }
  const lanes = [...new Set(attempts.map((a) => a.worker))].sort((a, b) => (a ?? 1e9) - (b ?? 1e9));
  const [t0, t1] = H.timelineRange(d, attempts);
  const width = Math.max(280, box.clientWidth || 600), left = 64, right = 8;
  const span = width - left - right, height = lanes.length * H.LANE + 22;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * span;
  const chart = H.svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Timeline of ${attempts.length} attempts over ${H.duration((t1 - t0) / 1000)}` });
  lanes.forEach((lane, i) => {
    const y = i * H.LANE;
    chart.append(H.svg("line", { x1: left, x2: width - right, y1: y + H.LANE, y2: y + H.LANE, class: "lane-line" }));
    const label = H.svg("text", { x: 4, y: y + 15, class: "lane-label" });
    label.textContent = H.laneName(lane);
    chart.append(label);
  });
  for (const a of attempts) chart.append(H.bar(a, x, lanes.indexOf(a.worker) * H.LANE, t1));
  for (let k = 0; k <= 4; k += 1) {
    const t = t0 + ((t1 - t0) * k) / 4;
    // The last label ends at the chart's edge rather than running past it.
    const tick = H.svg("text", { x: k === 4 ? width - 2 : x(t), y: height - 6, class: "tick",
      "text-anchor": k === 4 ? "end" : "start" });
    tick.textContent = `+${H.duration((t - t0) / 1000)}`;
    chart.append(tick);
  }
  box.replaceChildren(chart, H.legend());
};

H.bar = function bar(a, x, y, now) {
  const start = H.parseTime(a.started);
  const end = H.parseTime(a.finished) ?? (a.reason === "running" ? now : start);
  const w = Math.max(2, x(end) - x(start));
  const link = H.svg("a", { href: H.missionHref(H.ui.route.mission, a.task), class: "bar-link",
    "data-task": a.task, "data-attempt": a.attempt });
  const rect = H.svg("rect", { x: x(start), y: y + 3, width: w, height: H.LANE - 6, rx: 3,
    class: `bar r-${a.reason}` });
  const title = H.svg("title");
  title.textContent = `${a.task} #${a.attempt}: ${a.reason}, ${H.duration((end - start) / 1000)}` +
    ` (${H.clock(a.started)} → ${a.finished ? H.clock(a.finished) : "now"})${a.error ? ` — ${a.error}` : ""}`;
  link.append(rect, title);
  if (w > 40) {
    const text = H.svg("text", { x: x(start) + 4, y: y + 15, class: "bar-label" });
    text.textContent = `${a.task}${a.attempt > 1 ? ` #${a.attempt}` : ""}`;
    link.append(text);
  }
  return link;
};

H.legend = function legend() {
  return H.el("p", { class: "legend muted" }, ...["succeeded", "failed", "crashed", "cancelled", "running"].map(
    (r) => H.el("span", { class: `key r-${r}` }, r)));
};

// -- resources ----------------------------------------------------------------------------

H.loadMissionEvents = async function loadMissionEvents() {
  const id = H.ui.route.mission;
  let data;
  try { data = await H.getJSON(`/api/missions/${encodeURIComponent(id)}/events`); } catch (err) { return; }
  if (id !== H.ui.route.mission) return;
  const live = H.ui.series || {};
  H.ui.series = data.resources || {};
  for (const [key, points] of Object.entries(live)) {   // keep samples that arrived meanwhile
    const have = H.ui.series[key] || [];
    const last = have.length ? have[have.length - 1][0] : -Infinity;
    H.ui.series[key] = [...have, ...points.filter((p) => p[0] > last)].slice(-H.SERIES_POINTS);
  }
  H.ui.tools = data.tools || [];
  H.renderResources();
  H.renderLog();
};

H.onResource = function onResource(event) {
  const data = event.data || {};
  const key = `${event.task}#${event.attempt}`;
  const series = (H.ui.series[key] = H.ui.series[key] || []);
  series.push([Number(event.ts || 0), Number(data.cpu || 0), Number(data.rss || 0)]);
  if (series.length > H.SERIES_POINTS) series.splice(0, series.length - H.SERIES_POINTS);
  H.later("resources", H.renderResources, 100);
};

H.renderResources = function renderResources() {
  const entries = Object.entries(H.ui.series || {})
    .sort((a, b) => b[1][b[1].length - 1][0] - a[1][a[1].length - 1][0]).slice(0, H.SERIES_SHOWN);
  if (!entries.length) {
    H.$("resources").replaceChildren(H.el("p", { class: "muted" }, "No samples (tasks shorter than a second are not sampled)."));
    return;
  }
  H.$("resources").replaceChildren(...entries.map(([key, points]) => {
    const cpu = points.map((p) => p[1]), rss = points.map((p) => p[2]);
    const last = points[points.length - 1];
    return H.el("div", { class: "series", "data-series": key },
      H.el("b", {}, key.replace("#", " #")),
      H.el("figure", {}, H.el("figcaption", {}, "CPU ", H.el("span", { class: "cpu-now" }, `${last[1].toFixed(0)} %`),
        H.el("span", { class: "muted" }, ` (max ${Math.max(...cpu).toFixed(0)} %)`)), H.spark(cpu, `CPU of ${key}`)),
      H.el("figure", {}, H.el("figcaption", {}, "RSS ", H.el("span", { class: "rss-now" }, H.mib(last[2])),
        H.el("span", { class: "muted" }, ` (max ${H.mib(Math.max(...rss))})`)), H.spark(rss, `Memory of ${key}`)));
  }));
};

H.spark = function spark(values, label) {
  const chart = H.svg("svg", { viewBox: "0 0 120 30", preserveAspectRatio: "none", role: "img", "aria-label": label });
  const max = Math.max(...values, 1e-9);
  const points = values.map((v, i) => `${(i / Math.max(values.length - 1, 1)) * 120},${30 - (v / max) * 28 - 1}`).join(" ");
  chart.append(H.svg("polyline", { points }));
  return chart;
};
