// Wires the page up: controls, the router, the first snapshot and the event stream.
"use strict";

(function start() {
  for (const button of document.querySelectorAll(".actions button")) {
    button.addEventListener("click", () => H.act(button.dataset.verb));
  }
  for (const id of Object.values(H.FILTERS)) {
    H.$(id).addEventListener(H.$(id).tagName === "SELECT" || H.$(id).type === "date" ? "change" : "input", H.onFilter);
  }
  H.$("filters").addEventListener("submit", (event) => event.preventDefault());
  H.$("page-prev").addEventListener("click", () => H.page(-1));
  H.$("page-next").addEventListener("click", () => H.page(1));
  H.$("log-stream").addEventListener("change", H.renderLog);
  H.$("log-search").addEventListener("input", () => H.later("log", H.renderLog, 100));
  H.$("log-follow").addEventListener("change", H.renderLog);
  H.$("log-download").addEventListener("click", H.downloadLog);
  H.$("cost-by").addEventListener("change", H.loadCosts);
  H.$("cost-since").addEventListener("change", H.loadCosts);
  H.$("cost-form").addEventListener("submit", (event) => event.preventDefault());
  H.$("run-form").addEventListener("submit", H.submitRun);
  window.addEventListener("hashchange", H.route);
  window.addEventListener("resize", () => H.ui.detail && H.later("timeline", () => H.renderTimeline(H.ui.detail), 100));
  setInterval(H.tick, 1000);
  (async () => {
    H.readFilters(H.parseRoute(location.hash).params || {});
    let since = -1;
    try { since = await H.loadList(); } catch (err) { H.$("conn").textContent = String(err.message || err); }
    await H.route();
    H.connect(since ?? -1);
  })();
})();
