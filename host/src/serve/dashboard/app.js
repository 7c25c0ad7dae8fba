// The troupe dashboard: runs, a run's stages live, plugins. Plain DOM, no framework.
// Everything shown that came from a run (outputs, errors, names) is set as text, never
// as HTML: plugins wrote it, and plugins are untrusted.

import { ApiError, follow, get, patch, post, setToken } from "./api.js";

/** `h("td", { class: "x" }, "text", child)`: an element; strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace `el`'s children; absent ones (null, undefined, false) are left out. */
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

const main = () => document.getElementById("main");
const live = (text) => { document.getElementById("live").textContent = text; };

function ms(n) {
  if (n === null || n === undefined) return "";
  if (n < 1000) return `${n} ms`;
  if (n < 60000) return `${(n / 1000).toFixed(1)} s`;
  return `${Math.floor(n / 60000)} min ${Math.round((n % 60000) / 1000)} s`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function status(s) {
  return h("span", { class: `status ${s}` }, s);
}

/** Done and total of a stage's counts (total: expected, else what is known so far). */
function tally(c) {
  const done = c.succeeded + c.failed + c.skipped;
  const total = c.expected ?? Math.max(done + c.inFlight + c.waiting, 0);
  return { done, total };
}

/** A progress bar of a stage's counts, readable by a screen reader. */
function bar(label, c) {
  const { done, total } = tally(c);
  const pct = total > 0 ? Math.round((100 * done) / total) : (c.expected === 0 ? 100 : 0);
  const parts = [
    ["succeeded", c.succeeded], ["failed", c.failed], ["skipped", c.skipped],
    ["in-flight", c.inFlight], ["waiting", c.waiting],
  ];
  const width = Math.max(total, 1);
  const text = `${label}: ${done} of ${total} done (${c.succeeded} succeeded, ${c.failed} failed, ` +
    `${c.inFlight} in flight, ${c.waiting} waiting, ${c.stragglers} stragglers)`;
  return h("div", { class: "bar", role: "progressbar", "aria-label": text, "aria-valuemin": 0,
    "aria-valuemax": 100, "aria-valuenow": pct, "data-progress": pct, title: text },
  parts.filter(([, n]) => n > 0).map(([k, n]) => {
    // Set through the CSSOM: the page's CSP allows no inline style attributes.
    const part = h("span", { class: k });
    part.style.width = `${(100 * n) / width}%`;
    return part;
  }));
}

function runProgress(run) {
  const sum = { succeeded: 0, failed: 0, skipped: 0, inFlight: 0, waiting: 0, stragglers: 0, expected: 0 };
  for (const s of run.stages) {
    for (const k of ["succeeded", "failed", "skipped", "inFlight", "waiting", "stragglers"]) sum[k] += s.counts[k];
    sum.expected += s.counts.expected ?? 0;
  }
  if (run.status !== "running" && sum.expected === 0) sum.expected = null;
  return sum;
}

/** The run's stages on one time axis: when each started and how long it took (a
 * running one reaches now). */
function timeline(run) {
  const now = Date.now() - new Date(run.submittedAt).getTime();
  const ends = run.stages.map((s) => (s.startedMs ?? 0) + (s.durationMs ?? 0));
  const span = Math.max(run.durationMs ?? Math.max(now, ...ends), 1);
  return h("ol", { class: "timeline", "aria-label": "Stages over time" }, run.stages.map((s) => {
    const from = s.startedMs ?? null;
    const to = from === null ? null : s.durationMs !== null ? from + s.durationMs : Math.max(span, from);
    const seg = h("span", { class: `seg ${s.status}` });
    if (from !== null) {
      seg.style.left = `${(100 * from) / span}%`;
      seg.style.width = `${Math.max(0.5, (100 * (to - from)) / span)}%`;
    }
    const text = from === null ? `${s.name}: not started`
      : `${s.name}: from ${ms(from)} to ${ms(to)}${s.status === "running" ? " (running)" : ""}`;
    return h("li", { "data-timeline": s.name }, h("span", { class: "tl-name" }, s.name),
      h("div", { class: "track", role: "img", "aria-label": text, title: text }, seg));
  }));
}

/** A JSON value as nested folds: objects and arrays open two levels deep. */
function jsonView(value, depth = 0) {
  if (value === null || typeof value !== "object") {
    return h("code", {}, JSON.stringify(value));
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const summary = Array.isArray(value) ? `[${entries.length} items]` : `{${entries.length} keys}`;
  return h("details", { open: depth < 2 },
    h("summary", {}, summary),
    h("ul", { class: "json" }, entries.map(([k, v]) => h("li", {}, h("code", {}, `${k}: `), jsonView(v, depth + 1)))));
}

function showError(where, e) {
  const message = e instanceof ApiError && e.problem
    ? [e.problem.detail, ...(e.problem.errors || []).map((f) => `${f.pointer}: ${f.message}`)].join("\n")
    : String(e.message || e);
  fill(where, h("p", { class: "error", role: "alert" }, message));
  if (e instanceof ApiError && e.status === 401) askToken();
}

function askToken() {
  const input = h("input", { type: "password", id: "token", autocomplete: "off" });
  fill(main(),
    h("h1", {}, "Token"),
    h("form", { class: "row", onsubmit: (ev) => { ev.preventDefault(); setToken(input.value); route(); } },
      h("label", { for: "token" }, "This server needs its bearer token", input),
      h("button", { type: "submit" }, "Use it")));
  input.focus();
}

// ---- live updates: one stream of every run's events, shared by the views ----

let refresh = null;
let pending = false;

function onChange() {
  if (pending || !refresh) return;
  pending = true;
  setTimeout(() => { pending = false; if (refresh) refresh(); }, 250);
}

async function stream() {
  for (;;) {
    try {
      live("live");
      await follow("/v1/events", (name, data) => { if (!refresh?.runId || data.runId === refresh.runId) onChange(); });
    } catch (e) {
      live(e instanceof ApiError && e.status === 401 ? "needs a token" : "reconnecting");
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---- views ----

async function runsView() {
  const filter = new URLSearchParams(location.hash.split("?")[1] || "");
  const list = h("div", { class: "scroll" });
  const pipelines = await get("/v1/pipelines").catch(() => []);
  const statusSel = h("select", { id: "f-status", name: "status" },
    ["", "running", "succeeded", "failed", "cancelled"].map((s) => h("option", { value: s, selected: filter.get("status") === s }, s || "any")));
  const pipeSel = h("select", { id: "f-pipeline", name: "pipeline" },
    h("option", { value: "" }, "any"), pipelines.map((p) => h("option", { value: p.name, selected: filter.get("pipeline") === p.name }, p.name)));
  const applyFilter = (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    if (statusSel.value) q.set("status", statusSel.value);
    if (pipeSel.value) q.set("pipeline", pipeSel.value);
    location.hash = `#/runs${q.toString() ? "?" + q : ""}`;
  };
  const submitPipe = h("select", { id: "s-pipeline", name: "pipeline" }, pipelines.map((p) => h("option", { value: p.name }, p.name)));
  const submitInput = h("textarea", { id: "s-input", name: "input", spellcheck: "false" }, "{}");
  const submitOut = h("div", { role: "status" });
  const submit = async (ev) => {
    ev.preventDefault();
    let input;
    try { input = JSON.parse(submitInput.value || "{}"); } catch (e) {
      fill(submitOut, h("p", { class: "error", role: "alert" }, `The input is not JSON: ${e.message}`));
      return;
    }
    try {
      const run = await post("/v1/runs", { pipeline: submitPipe.value, input });
      location.hash = `#/runs/${run.id}`;
    } catch (e) { showError(submitOut, e); }
  };
  fill(main(),
    h("h1", {}, "Runs"),
    h("form", { class: "row", "aria-label": "Filter runs", onsubmit: applyFilter },
      h("label", { for: "f-status" }, "Status", statusSel),
      h("label", { for: "f-pipeline" }, "Pipeline", pipeSel),
      h("button", { type: "submit" }, "Filter")),
    list,
    h("h2", {}, "Submit a run"),
    pipelines.length
      ? h("form", { "aria-label": "Submit a run", onsubmit: submit },
        h("div", { class: "row" }, h("label", { for: "s-pipeline" }, "Pipeline", submitPipe)),
        h("label", { for: "s-input" }, "Input (JSON, the run's $.trigger)", submitInput),
        h("div", { class: "row" }, h("button", { type: "submit", id: "submit-run" }, "Submit")), submitOut)
      : h("p", { class: "muted" }, "This server has no named pipelines (start it with --pipelines DIR)."));

  const load = async () => {
    const q = new URLSearchParams({ limit: "100" });
    if (filter.get("status")) q.set("status", filter.get("status"));
    if (filter.get("pipeline")) q.set("pipeline", filter.get("pipeline"));
    try {
      const page = await get(`/v1/runs?${q}`);
      fill(list, page.runs.length === 0 ? h("p", { class: "muted" }, "No runs yet.") :
        h("table", {},
          h("caption", { class: "muted" }, `${page.runs.length} run(s), newest first`),
          h("thead", {}, h("tr", {}, h("th", {}, "Run"), h("th", {}, "Pipeline"), h("th", {}, "Status"),
            h("th", { class: "wide" }, "Submitted"), h("th", {}, "Duration"), h("th", {}, "Progress"))),
          h("tbody", {}, page.runs.map((r) => h("tr", { "data-run": r.id },
            h("td", {}, h("a", { href: `#/runs/${r.id}` }, r.id)),
            h("td", {}, r.pipeline), h("td", {}, status(r.status)),
            h("td", { class: "wide" }, when(r.submittedAt)), h("td", {}, ms(r.durationMs)),
            h("td", {}, bar(`run ${r.id}`, runProgress(r))))))));
    } catch (e) { showError(list, e); }
  };
  refresh = load;
  await load();
}

async function runView(id) {
  const body = h("div");
  let liveSection = null;
  const loadLive = async (where) => {
    liveSection = where;
    try {
      const l = await get(`/v1/runs/${encodeURIComponent(id)}/live`);
      if (where === liveSection) fill(where, liveStages(l.stages), h("h3", {}, "Its executors' state"), cards(l.cards));
    } catch (e) { showError(where, e); }
  };
  fill(main(), h("p", {}, h("a", { href: "#/runs" }, "All runs")), body);
  const load = async () => {
    let run;
    try { run = await get(`/v1/runs/${encodeURIComponent(id)}`); } catch (e) { showError(body, e); return; }
    const sha = Object.fromEntries(run.plugins.filter((p) => p.role === "mode").map((p) => [p.name, p.sha256]));
    const note = h("div", { role: "status" });
    const cancel = run.status === "running"
      ? h("button", { class: "danger", id: "cancel", onclick: async () => {
        try { await post(`/v1/runs/${encodeURIComponent(id)}/cancel`, {}); onChange(); } catch (e) { showError(note, e); }
      } }, "Cancel run")
      : null;
    const liveBox = h("div", { id: "live-state" });
    if (run.status === "running") loadLive(liveBox);
    const stageRows = run.stages.map((s) => {
      const { done, total } = tally(s.counts);
      return h("tr", { "data-stage": s.name },
        h("td", {}, s.name),
        h("td", {}, s.mode, sha[s.mode] ? h("div", { class: "muted", title: sha[s.mode] }, sha[s.mode].slice(0, 12)) : null),
        h("td", {}, status(s.status)),
        h("td", {}, bar(s.name, s.counts), h("div", { class: "legend" },
          `${done} / ${total} · ${s.counts.succeeded} ok · ${s.counts.failed} failed · ${s.counts.inFlight} in flight · ` +
          `${s.counts.waiting} waiting · ${s.counts.stragglers} late · peak ${s.counts.maxInFlight}`)),
        h("td", {}, ms(s.durationMs)),
        h("td", {}, s.status === "running" ? retuneForm(id, s.name, note) : null));
    });
    fill(body,
      h("h1", {}, `Run ${run.id}`),
      h("p", {}, status(run.status), ` · ${run.pipeline} · submitted ${when(run.submittedAt)}`,
        run.durationMs !== null ? ` · ${ms(run.durationMs)}` : ""),
      run.error ? h("p", { class: "error" }, run.error) : null,
      h("div", { class: "row" }, cancel), note,
      h("h2", {}, "Timeline"), timeline(run),
      h("h2", {}, "Stages"),
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Stage", "Executor", "Status", "Progress", "Duration", "Retune"].map((t) => h("th", {}, t)))),
        h("tbody", {}, stageRows))),
      run.status === "running" ? [h("h2", {}, "Live state"), liveBox] : null,
      h("h2", {}, `Failed tasks (${run.failedTasks.length})`),
      run.failedTasks.length === 0 ? h("p", { class: "muted" }, "None.") : h("div", { class: "scroll" }, h("table", { id: "failed" },
        h("thead", {}, h("tr", {}, ["Stage", "Task", "Actor", "Attempts", "Error"].map((t) => h("th", {}, t)))),
        h("tbody", {}, run.failedTasks.map((t) => h("tr", {},
          h("td", {}, t.stage), h("td", {}, t.index), h("td", {}, t.actor), h("td", {}, t.attempts),
          h("td", { class: "error" }, t.error ?? "")))))),
      h("h2", {}, "Outputs"),
      Object.keys(run.outputs).length === 0 ? h("p", { class: "muted" }, "No stage has ended yet.") :
        h("div", {}, Object.entries(run.outputs).map(([stage, out]) =>
          h("details", { class: "output" }, h("summary", {}, stage), jsonView(out)))),
      h("h2", {}, "Input"), jsonView(run.input));
  };
  refresh = load;
  refresh.runId = id;
  tick(() => { if (liveSection && liveSection.isConnected) loadLive(liveSection); }, () => liveSection);
  await load();
}

// ---- live state: slots, rate buckets, plugins' cards ----

/** A meter (slots in use, tokens in a bucket), readable by a screen reader. */
function meter(label, value, max) {
  const pct = max > 0 ? Math.min(100, Math.round((100 * value) / max)) : 0;
  const part = h("span", { class: "in-flight" });
  part.style.width = `${pct}%`;
  return h("div", { class: "bar meter", role: "meter", "aria-label": label, "aria-valuemin": 0,
    "aria-valuemax": max, "aria-valuenow": value, title: label }, part);
}

function liveStages(stages) {
  if (stages.length === 0) return h("p", { class: "muted" }, "No stage is running.");
  return h("div", { class: "scroll" }, h("table", { class: "live-stages" },
    h("thead", {}, h("tr", {}, ["Stage", "Slots (maxParallel)", "Waiting", "Rate bucket"].map((t) => h("th", {}, t)))),
    h("tbody", {}, stages.map((s) => {
      const c = s.counts;
      const slots = s.maxParallel
        ? [meter(`${s.name}: ${c.inFlight} of ${s.maxParallel} slots in use`, c.inFlight, s.maxParallel),
          h("div", { class: "legend" }, `${c.inFlight} of ${s.maxParallel} in use${s.retuned ? " (retuned)" : ""} · peak ${c.maxInFlight}`)]
        : h("div", { class: "legend" }, `${c.inFlight} in flight · no limit · peak ${c.maxInFlight}`);
      const waiting = `${c.waiting} for a slot · ${s.timed}${s.timedCapped ? "+" : ""} for their time`;
      const r = s.rate;
      const rate = r
        ? [meter(`${s.name}: bucket ${r.bucket}, ${r.tokens} of ${r.burst} tokens`, r.tokens, r.burst),
          h("div", { class: "legend" }, `bucket ${r.bucket} · ${r.perSecond}/s · burst ${r.burst} · ${r.tokens} tokens now`)]
        : h("span", { class: "muted" }, "none");
      return h("tr", { "data-live-stage": s.name },
        h("td", {}, s.name, h("div", { class: "muted" }, s.mode)),
        h("td", {}, slots), h("td", {}, waiting), h("td", {}, rate),
        s.error ? h("td", { class: "error" }, s.error) : null);
    }))));
}

/** A plugin's card (`view:` state keys): what its author chose to show. */
function card(c) {
  const label = `${c.title}${c.state ? `: ${c.state}` : ""}`;
  return h("article", { class: `card ${c.kind}`, "data-card": `${c.plugin}/${c.name}`, "aria-label": label },
    h("h3", {}, c.title, c.state ? h("span", { class: `state ${c.state}` }, c.state) : null),
    h("div", { class: "muted" }, c.plugin),
    c.error ? h("p", { class: "error" }, c.error) : null,
    c.until ? h("p", { class: "until" }, `${c.until.label} ${ms(c.until.inMs)}`) : null,
    c.fields.length ? h("dl", {}, c.fields.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null ? "null" : String(v))])) : null);
}

function cards(list) {
  if (list.length === 0) return h("p", { class: "muted" }, "No plugin shows any state.");
  return h("div", { class: "cards" }, list.map(card));
}

/** Re-read a live view every second while it is shown (a breaker's timer runs without events). */
let ticker = null;
function tick(load, region) {
  clearInterval(ticker);
  ticker = setInterval(() => {
    // Not under a keyboard user's feet: re-rendering `region` would drop the focus they
    // moved into it; it is re-read once the focus leaves.
    const where = region();
    const focused = document.activeElement;
    if (!document.hidden && !(where && focused && where.contains(focused))) load();
  }, 1000);
}

async function liveView() {
  const body = h("div");
  fill(main(), body);
  const load = async () => {
    let all;
    try { all = await get("/v1/live"); } catch (e) { showError(body, e); return; }
    fill(body,
      h("h1", {}, "Live state"),
      h("h2", {}, "Plugins' state"), cards(all.cards),
      h("h2", {}, `Running runs (${all.running}${all.running > all.runs.length ? `, the newest ${all.runs.length} shown` : ""})`),
      all.runs.length === 0 ? h("p", { class: "muted" }, "None.") :
        all.runs.map((r) => h("section", { "data-live-run": r.runId, "aria-label": `run ${r.runId}` },
          h("h3", {}, h("a", { href: `#/runs/${r.runId}` }, r.runId), ` · ${r.pipeline}`), liveStages(r.stages))));
  };
  refresh = load;
  tick(load, () => body);
  await load();
}

function retuneForm(runId, stage, note) {
  const maxp = h("input", { type: "number", min: 1, max: 1000000, name: "maxParallel", placeholder: "maxParallel", "aria-label": `maxParallel of ${stage}`, size: 6 });
  const rate = h("input", { type: "number", min: 0.001, step: "any", name: "perSecond", placeholder: "tasks / s", "aria-label": `tasks per second of ${stage}`, size: 6 });
  return h("form", { class: "row", "data-retune": stage, onsubmit: async (ev) => {
    ev.preventDefault();
    const change = {};
    if (maxp.value) change.maxParallel = Number(maxp.value);
    if (rate.value) change.rate = { perSecond: Number(rate.value) };
    try {
      await patch(`/v1/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stage)}`, change);
      fill(note, h("p", {}, `Stage ${stage} retuned.`));
      onChange();
    } catch (e) { showError(note, e); }
  } }, maxp, rate, h("button", { type: "submit" }, "Apply"));
}

async function pluginsView() {
  const body = h("div");
  fill(main(), body);
  const load = async () => {
    let list;
    try { list = await get("/v1/plugins"); } catch (e) { showError(body, e); return; }
    fill(body,
      h("h1", {}, "Plugins"),
      h("p", { class: "muted" }, `Loaded ${when(list.loadedAt)} · hot reload ${list.watching ? "on" : "off"} · ` +
        `${list.olderSetsInUse} older set(s) still used by running runs`),
      list.error ? h("p", { class: "error", role: "alert" }, `The files on disk were refused: ${list.error.error}`) : null,
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Role", "Name", "Kind", "Language", "WIT", "sha256", "Grants", "Loaded"].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.plugins.map((p) => h("tr", { "data-plugin": `${p.role}:${p.name}` },
          h("td", {}, p.role), h("td", {}, p.name), h("td", {}, p.kind), h("td", {}, p.language ?? "unknown"), h("td", {}, p.witVersion ?? ""),
          h("td", { title: p.sha256 ?? "" }, p.sha256 ? p.sha256.slice(0, 12) : ""),
          h("td", {}, (p.allowHttp || []).join(", ") || "none"), h("td", {}, when(p.loadedAt))))))),
      h("h2", {}, "Reloads"),
      list.reloads.length === 0 ? h("p", { class: "muted" }, "None since the server started.") :
        h("ul", {}, list.reloads.slice().reverse().map((r) => h("li", {}, `${when(r.at)}: `,
          r.applied ? `applied (${r.changes.map((c) => `${c.role} ${c.name}`).join(", ") || "settings"})` : "refused",
          r.error ? h("div", { class: "error" }, r.error) : null))));
  };
  refresh = load;
  await load();
}

// ---- routing ----

/** Whether focus moves to the new view: not on the first load (the keyboard starts at
 * the top of the page, at the skip link), on every navigation after it. */
let navigated = false;

async function route() {
  const path = location.hash.replace(/^#/, "").split("?")[0] || "/runs";
  refresh = null;
  clearInterval(ticker);
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", false);
    if (path.startsWith(`/${a.dataset.nav}`)) a.setAttribute("aria-current", "page");
  }
  try {
    if (path.startsWith("/runs/")) await runView(decodeURIComponent(path.slice(6)));
    else if (path === "/plugins") await pluginsView();
    else if (path === "/live") await liveView();
    else await runsView();
  } catch (e) { showError(main(), e); }
  if (navigated) main().focus({ preventScroll: true });
  navigated = true;
}

window.addEventListener("hashchange", route);
route();
stream();
