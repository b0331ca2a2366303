// What a mission produced (outputs/, Markdown shown as the server rendered it: no raw
// HTML, no images), its blackboard, what missions cost, and starting a workflow.
"use strict";

H.loadProduced = async function loadProduced() {
  const id = H.ui.route.mission;
  if (!id) return;
  const base = `/api/missions/${encodeURIComponent(id)}`;
  let outputs, board;
  try { [outputs, board] = await Promise.all([H.getJSON(`${base}/outputs`), H.getJSON(`${base}/blackboard`)]); }
  catch (err) { return; }
  if (id !== H.ui.route.mission) return;
  H.$("outputs").replaceChildren(...(outputs.files.length ? outputs.files.map((f) => {
    const href = `${base}/outputs/${f.path.split("/").map(encodeURIComponent).join("/")}`;
    return H.el("li", { "data-path": f.path },
      f.markdown ? H.el("button", { type: "button", class: "link", onclick: () => H.showOutput(href, f.path) }, f.path)
        : H.el("span", {}, f.path),
      H.el("span", { class: "muted" }, ` ${f.size.toLocaleString("en-US")} B `),
      H.el("a", { href, download: f.path.split("/").pop() }, "download"));
  }) : [H.el("li", { class: "muted" }, "Nothing in outputs/ yet.")]));
  H.renderBlackboard(board);
  // A report is what a person opens a finished mission for: show the first one at once.
  const report = outputs.files.find((f) => f.markdown);
  if (report && H.$("output-view").hidden) {
    await H.showOutput(`${base}/outputs/${report.path.split("/").map(encodeURIComponent).join("/")}`, report.path);
  }
};

H.showOutput = async function showOutput(href, path) {
  const view = H.$("output-view");
  try {
    const answer = await H.getJSON(`${href}?render=1`);
    if (!href.startsWith(`/api/missions/${encodeURIComponent(H.ui.route.mission)}/`)) return;
    // The server rendered it with markdown-it-py, raw HTML and images disabled.
    view.innerHTML = answer.html;
    view.prepend(H.el("p", { class: "muted" }, path));
    view.hidden = false;
  } catch (err) { H.showError(String(err.message || err)); }
};

H.renderBlackboard = function renderBlackboard(board) {
  const decisions = board.decisions || [], directives = Object.entries(board.directives || {});
  const box = H.$("blackboard");
  if (!decisions.length && !directives.length) { box.replaceChildren(H.el("p", { class: "muted" }, "Empty.")); return; }
  box.replaceChildren(
    H.el("h4", {}, `Decisions (${decisions.length})`),
    H.el("ol", { class: "decisions" }, ...decisions.map((d) => H.el("li", {},
      H.el("span", { class: "muted" }, `${d.task || "?"}: `), String(d.text ?? JSON.stringify(d))))),
    H.el("h4", {}, `Directives (${directives.length})`),
    H.el("dl", { class: "directives" }, ...directives.flatMap(([key, d]) => [
      H.el("dt", {}, key), H.el("dd", {}, typeof d.value === "string" ? d.value : JSON.stringify(d.value))])));
};

// -- costs ----------------------------------------------------------------------------------

H.COST_COLUMNS = [["missions", H.tokens], ["attempts", H.tokens], ["input_tokens", H.tokens],
  ["output_tokens", H.tokens], ["tokens", H.tokens], ["cost", H.money]];

H.loadCosts = async function loadCosts() {
  const by = H.$("cost-by").value, since = H.$("cost-since").value;
  let table, today;
  try {
    [table, today] = await Promise.all([
      H.getJSON(`/api/costs?by=${by}&since=${encodeURIComponent(since)}`),
      H.getJSON("/api/costs?by=mission&since=today")]);
  } catch (err) { H.$("cost-today").textContent = String(err.message || err); return; }
  H.$("cost-today").textContent = `Today: ${H.money(today.total.cost)} · ${H.tokens(today.total.tokens)} tokens in ${today.total.missions} missions`;
  const head = H.el("tr", {}, H.el("th", { scope: "col" }, by),
    ...H.COST_COLUMNS.map(([c]) => H.el("th", { scope: "col" }, c.replace("_", " "))));
  const row = (r, cls) => H.el("tr", { class: cls || "" },
    H.el("td", {}, r[by] === undefined ? "total" : by === "mission" ? H.el("a", { href: H.missionHref(r[by]) }, r[by]) : String(r[by])),
    ...H.COST_COLUMNS.map(([c, fmt]) => H.el("td", {}, fmt(r[c]))));
  const table_ = H.$("cost-table");
  table_.tHead.replaceChildren(head);
  table_.tBodies[0].replaceChildren(...table.rows.map((r) => row(r)), row(table.total, "total"));
};

// -- start work -----------------------------------------------------------------------------

H.loadPackages = async function loadPackages() {
  let data;
  try { data = await H.getJSON("/api/packages"); }
  catch (err) { H.$("packages").textContent = String(err.message || err); return; }
  if (!data.packages.length) {
    H.$("packages").replaceChildren(H.el("p", { class: "muted" },
      "No package is installed in this home yet: ", H.el("code", {}, "houston package install NAME"), "."));
    return;
  }
  H.$("packages").replaceChildren(...data.packages.map((p) => H.el("details", { class: "package", "data-package": p.name },
    H.el("summary", {}, H.el("b", {}, p.name), ` ${p.version} `, H.el("span", { class: "muted" }, p.description || "")),
    H.el("p", {}, "Agents: ", Object.keys(p.agents || {}).join(", ") || "none"),
    H.el("ul", {}, ...Object.entries(p.workflows || {}).map(([name, w]) => H.el("li", {},
      w.parameters === null || w.disabled ? H.el("span", { class: "muted" }, `${name} (${w.disabled ? "disabled" : "documentation"})`)
        : H.el("button", { type: "button", class: "link", "data-workflow": `${p.name}/${name}`,
          onclick: () => H.showRunForm(`${p.name}/${name}`, w.parameters) }, `Run ${name}…`)))))));
};

H.showRunForm = function showRunForm(workflow, parameters) {
  H.$("run-workflow").textContent = workflow;
  H.$("run-form").dataset.workflow = workflow;
  H.$("run-params").replaceChildren(...parameters.map((p) => H.el("label", { class: "param" },
    H.el("span", {}, `${p.name}${p.required ? " *" : ""}`),
    H.el("input", { name: p.name, value: p.default == null ? "" : String(p.default), required: p.required ? "" : null,
      "aria-describedby": `help-${p.name}` }),
    H.el("small", { id: `help-${p.name}`, class: "muted" }, p.description || ""))));
  H.$("run-error").hidden = true;
  H.$("run-form").hidden = false;
  const first = H.$("run-params").querySelector("input") || H.$("run-submit");
  first.focus();
};

H.submitRun = async function submitRun(event) {
  event.preventDefault();
  const form = H.$("run-form");
  const params = {};
  for (const input of H.$("run-params").querySelectorAll("input")) if (input.value !== "") params[input.name] = input.value;
  try {
    const made = await H.postJSON("/api/runs", { workflow: form.dataset.workflow, params, approve: H.$("run-approve").checked });
    H.go(H.missionHref(made.id));
  } catch (err) {
    H.$("run-error").textContent = String(err.message || err);
    H.$("run-error").hidden = false;
  }
};
