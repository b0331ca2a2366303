// The mission list: search, filters and sort are sent to the server, which pages them
// (GET /api/missions?q=&state=&outcome=&package=&since=&until=&sort=&offset=&limit=).
// The list's query lives in the address (#/?q=...), so a shared link shows the same list.
"use strict";

H.PAGE = 50;
H.FILTERS = { q: "f-q", state: "f-state", outcome: "f-outcome", package: "f-package",
  since: "f-since", until: "f-until", sort: "f-sort" };
H.ui.query = { offset: 0 };

H.readFilters = function readFilters(params) {
  for (const [key, id] of Object.entries(H.FILTERS)) H.$(id).value = params[key] || (key === "sort" ? "newest" : "");
  const wanted = { ...H.filterValues(), offset: Number(params.offset || 0) };
  if (JSON.stringify(wanted) !== JSON.stringify(H.ui.query)) {
    H.ui.query = wanted;
    H.later("list", H.loadList, 0);
  }
};

H.filterValues = function filterValues() {
  const values = {};
  for (const [key, id] of Object.entries(H.FILTERS)) {
    const value = H.$(id).value.trim();
    if (value && !(key === "sort" && value === "newest")) values[key] = value;
  }
  return values;
};

H.queryString = function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, String(value));
  return params.toString();
};

H.onFilter = function onFilter() {   // typing waits a little; the server does the work
  H.ui.query = { ...H.filterValues(), offset: 0 };
  if (H.ui.route.view === "list") {
    const qs = H.queryString(H.ui.query);
    history.replaceState(null, "", qs ? `#/?${qs}` : "#/");
  }
  H.later("list", H.loadList, 150);
};

H.loadList = async function loadList() {
  const query = H.ui.query;
  const data = await H.getJSON(`/api/missions?${H.queryString({ ...query, limit: H.PAGE })}`);
  if (query !== H.ui.query) return;   // an older answer after a newer filter: drop it
  H.ui.list = data;
  H.ui.workers = data.workers || 0;
  H.renderCounts(data.counts || {});
  H.renderCards();
  return data.last_event_id;
};

H.renderCounts = function renderCounts(counts) {
  const parts = ["PLANNING", "COMMITTED", "EXECUTING", "COMPLETED"].map(
    (s) => H.el("span", { class: "chip", id: `count-${s}` }, `${s.toLowerCase()} ${counts[s] ?? 0}`));
  H.$("state-counts").replaceChildren(...parts);
};

H.card = function card(m, now) {
  const counts = m.counts || {};
  const created = H.parseTime(m.created);
  const started = H.parseTime(m.started);
  const running = m.state === "EXECUTING" && started !== null;
  const took = m.duration != null ? H.duration(m.duration) : running ? `${H.duration((now - started) / 1000)} so far` : "";
  const link = H.el("a", {
    class: "card", href: H.missionHref(m.id), "data-id": m.id,
    "aria-current": String(m.id === H.ui.route.mission),
  },
    H.el("span", { class: "name" }, m.name || m.id),
    H.el("span", { class: "meta" },
      H.el("code", { title: m.id }, H.shortId(m.id)), " · ",
      H.el("span", { class: `state st-${m.state}` }, m.state.toLowerCase()), " ",
      H.el("span", { class: `badge s-${m.outcome || ""}` }, m.outcome || "")),
    H.el("span", { class: "meta" },
      `${counts.succeeded ?? 0}/${counts.total ?? 0} tasks`,
      created !== null ? ` · ${H.age(now - created)}` : "",
      took ? ` · ${took}` : ""));
  return H.el("li", {}, link);
};

H.renderCards = function renderCards() {
  const focused = document.activeElement && document.activeElement.classList.contains("card")
    ? document.activeElement.dataset.id : null;   // keep keyboard focus across refreshes
  const now = Date.now();
  const list = H.ui.list.missions || [];
  H.$("cards").replaceChildren(...list.map((m) => H.card(m, now)));
  if (!list.length) H.$("cards").append(H.el("li", { class: "muted empty" }, "No mission matches."));
  const offset = H.ui.list.offset || 0, total = H.ui.list.total || 0;
  H.$("page-info").textContent = total
    ? `${(offset + 1).toLocaleString("en-US")}–${(offset + list.length).toLocaleString("en-US")} of ${total.toLocaleString("en-US")}`
    : "0 missions";
  H.$("page-prev").disabled = offset <= 0;
  H.$("page-next").disabled = offset + list.length >= total;
  if (focused) {
    const again = document.querySelector(`.card[data-id="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
};

H.page = function page(step) {
  const offset = Math.max(0, (H.ui.query.offset || 0) + step * H.PAGE);
  H.ui.query = { ...H.ui.query, offset };
  if (H.ui.route.view === "list") {
    history.replaceState(null, "", `#/?${H.queryString(H.ui.query)}`);
  }
  H.loadList();
};
