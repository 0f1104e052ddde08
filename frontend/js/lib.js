// Shared helpers of every view: API calls, errors next to their fields, loading states,
// the model/baseline panel, number formatting and charts (Chart.js, vendored).

export function apiBase() {
  return String(window.API_BASE_URL || "").replace(/\/+$/, "");
}

export class ApiError extends Error {
  constructor(status, body, url) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || (status ? `http_${status}` : "network_error");
    this.details = Array.isArray(err.details) ? err.details : [];
    this.url = url;
  }
}

/** Call the API; resolves to the JSON body, rejects with an ApiError carrying the error body. */
export async function api(path, { method = "GET", body, query, signal } = {}) {
  let url = apiBase() + path;
  if (query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, v);
    const qs = params.toString();
    if (qs) url += "?" + qs;
  }
  const init = { method, signal, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (exc) {
    if (exc && exc.name === "AbortError") throw exc;
    throw new ApiError(0, { error: { code: "network_error", message: `cannot reach the API (${url}): ${exc.message}` } }, url);
  }
  let data = null;
  try {
    data = await resp.json();
  } catch (_) {
    data = null;
  }
  if (!resp.ok) {
    const payload = data && data.error ? data : { error: { message: `HTTP ${resp.status} ${resp.statusText} from ${path}` } };
    throw new ApiError(resp.status, payload, url);
  }
  return data;
}

// ---------------------------------------------------------------- services

let mounted = null;

/** Names of the services the API serves: /api/services locally, else each one's /health. */
export async function serviceAvailable(name) {
  if (mounted === null) {
    mounted = api("/api/services").then((b) => new Set(b.services || [])).catch(() => undefined);
  }
  const names = await mounted;
  if (names) return names.has(name);
  try {
    await api(`/api/${name}/health`);
    return true;
  } catch (_) {
    return false;
  }
}

// ---------------------------------------------------------------- DOM helpers

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function html(el, markup) {
  el.innerHTML = markup;
  return el;
}

export function fmt(value, { digits } = {}) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const d = digits ?? (abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3);
  return value.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: 0 });
}

export function pct(value, digits = 1) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(digits)}%`;
}

/** A note at the top of a region (one per class, `data-<class>` to find it), or none when `text` is null. */
function regionNote(region, className, text, role) {
  let note = region.querySelector(`:scope > .${className}`);
  if (text === null) {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.className = className;
    note.setAttribute(`data-${className}`, "");
    if (role) note.setAttribute("role", role);
    region.prepend(note);
  }
  note.textContent = text;
}

/** Show or hide a loading message in a region (aria-busy for assistive technology). */
export function setLoading(region, loading, text = "Loading…") {
  region.setAttribute("aria-busy", loading ? "true" : "false");
  regionNote(region, "loading", loading ? text : null, "status");
}

// ---------------------------------------------------------------- times

/** A UTC instant in the viewer's local time, the UTC value on hover (and in `datetime`). */
export function localTime(iso, { style = "medium" } = {}) {
  const t = new Date(iso);
  if (iso === null || iso === undefined || Number.isNaN(t.getTime())) return esc(iso ?? "–");
  const local = t.toLocaleString(undefined, { dateStyle: style, timeStyle: "short" });
  return `<time datetime="${esc(iso)}" title="${esc(t.toISOString().replace(".000Z", "Z"))} UTC">${esc(local)}</time>`;
}

// ---------------------------------------------------------------- answers

/** Destroy the Chart.js charts inside a region (before its markup is replaced). */
export function destroyCharts(region) {
  const Chart = window.Chart;
  if (!Chart) return;
  for (const canvas of region.querySelectorAll("canvas")) {
    const existing = Chart.getChart(canvas);
    if (existing) existing.destroy();
  }
}

/** Replace a region's markup, its charts destroyed first. */
export function replace(region, markup) {
  destroyCharts(region);
  region.innerHTML = markup;
  return region;
}

/** What a form's inputs say now: the key an answer remembers, to tell when it is out of date. */
function signature(form) {
  return JSON.stringify([...form.elements].filter((e) => e.name && e.type !== "submit")
    .map((e) => [e.name, e.type === "checkbox" ? e.checked : e.value]));
}

/** Mark an answer as belonging to earlier inputs (dimmed, with a note), or as current again. */
export function markStale(region, stale, note = "This answer is for the previous inputs.") {
  region.dataset.stale = stale ? "true" : "false";
  regionNote(region, "stale-note", stale && region.dataset.answer === "shown" ? note : null);
}

/** Take an answer off the screen: after a failed submit nothing may read as the answer to the new inputs. */
export function clearAnswer(region, note = "No answer for these inputs: see what to correct in the form.") {
  replace(region, `<p class="help no-answer" data-no-answer>${esc(note)}</p>`);
  region.dataset.answer = "none";
  region.dataset.stale = "false";
  delete region.dataset.inputs;
}

// ---------------------------------------------------------------- forms and errors

function fieldErrorSlot(input) {
  const id = `${input.id || input.name}-error`;
  let slot = document.getElementById(id);
  if (!slot) {
    slot = document.createElement("p");
    slot.id = id;
    slot.className = "field-error";
    const anchor = input.closest(".field") || input;
    anchor.append(slot);
  }
  const described = new Set((input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean));
  described.add(id);
  input.setAttribute("aria-describedby", [...described].join(" "));
  return slot;
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const box = form.querySelector("[data-form-error]");
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
}

/** One ApiError from several (e.g. two requests behind one form): every detail, the first status. */
export function combineErrors(errors) {
  const list = errors.filter(Boolean);
  if (list.length === 1) return list[0];
  const first = list.find((e) => e instanceof ApiError) || list[0];
  const details = list.flatMap((e) => (e instanceof ApiError && e.details.length ? e.details : [{ field: null, problem: e.message }]));
  return new ApiError(first.status, { error: { code: first.code, message: list.map((e) => e.message).join("; "), details } }, first.url);
}

function controlOf(form, field, aliases) {
  const raw = String(field ?? "").replace(/^(body|query)\./, "");
  const name = aliases[raw] ?? raw;
  const control = name && form.elements.namedItem(name);
  const input = control && (control instanceof RadioNodeList ? control[0] : control);
  return input && input.id !== undefined ? input : null;
}

/**
 * Show every problem at once: the page's own checks (`client`, [{field, problem}]) and the API's
 * `error.details`, each next to the field it names (`aliases` maps an API name to a control name).
 * Where both name one field the API's words are shown; what names no field of the form goes in the
 * form's error box, as does an API error without details.
 */
export function showProblems(form, { client = [], error = null, aliases = {}, focus = true } = {}) {
  const byInput = new Map();
  const unplaced = [];
  const add = (detail, source) => {
    const input = controlOf(form, detail.field, aliases);
    if (!input) {
      unplaced.push(detail.field ? `${detail.field}: ${detail.problem}` : detail.problem);
      return;
    }
    if (!byInput.has(input)) byInput.set(input, { client: [], api: [] });
    const list = byInput.get(input)[source];
    if (!list.includes(detail.problem)) list.push(detail.problem);
  };
  for (const detail of client) add(detail, "client");
  const details = error instanceof ApiError ? error.details : [];
  for (const detail of details) add(detail, "api");
  for (const [input, found] of byInput) {
    fieldErrorSlot(input).textContent = (found.api.length ? found.api : found.client).join("; ");
    input.setAttribute("aria-invalid", "true");
  }
  const box = form.querySelector("[data-form-error]");
  const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
  let text = unplaced.join("; ");
  if (error && !details.length) text = text ? `${text}; ${error.message}` : error.message;
  if (box && text) {
    box.textContent = `Error${error ? status : ""}: ${text}`;
    box.hidden = false;
  }
  if (focus) {
    const first = [...form.elements].find((e) => e.getAttribute && e.getAttribute("aria-invalid") === "true");
    if (first) first.focus();
  }
}

/** An API error next to the fields its details name; the rest in the form's error box. */
export function showErrors(form, error, aliases = {}, { focus = true } = {}) {
  showProblems(form, { error, aliases, focus });
}

/**
 * Wire a form. On submit: errors cleared; the page's own `check(form, submitter)` run (every rule,
 * not the first that fails) and shown at once; the answer regions marked as belonging to the
 * previous inputs while the API answers; then
 * - `request(form, submitter)` resolves: `render(data, form, submitter)` draws the new answer, unless
 *   the page's checks failed (then the answer is cleared and the page's problems stay);
 * - it rejects: the answer is cleared and the API's details join the page's problems by their fields.
 * The request is sent even when a check fails, so the API's problems with the other fields (which it
 * reports together) show beside the page's (which the API would only report once those are fixed).
 * `answer`: the region(s) a submit replaces, or a function of the submitter giving them.
 * A plain function instead of {request, render} both asks and draws (no answer handling).
 */
export function wireForm(form, handler, { aliases = {}, busyRegion, answer, check } = {}) {
  const { request, render } = typeof handler === "function" ? { request: handler, render: null } : handler;
  const targetsOf = (submitter) => {
    const t = typeof answer === "function" ? answer(submitter) : answer;
    return (Array.isArray(t) ? t : t ? [t] : []).filter(Boolean);
  };
  const allAnswers = () => [...new Set([...targetsOf(null), ...(form._answers || [])])];
  const refreshStale = () => {
    const now = signature(form);
    for (const region of allAnswers()) {
      if (region.dataset.answer === "shown") markStale(region, region.dataset.inputs !== now);
    }
  };
  form.addEventListener("input", refreshStale);
  form.addEventListener("change", refreshStale);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submitter = event.submitter || null;
    const targets = targetsOf(submitter);
    form._answers = [...new Set([...(form._answers || []), ...targets])];
    clearErrors(form);
    const client = check ? (check(form, submitter) || []) : [];
    if (client.length) showProblems(form, { client, aliases });
    for (const region of targets) markStale(region, true, "This answer is for the previous inputs; waiting for the new one.");
    const region = busyRegion || targets[0] || form;
    setLoading(region, true);
    form.setAttribute("aria-busy", "true");
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    for (const b of buttons) b.disabled = true;
    const inputs = signature(form);
    try {
      const data = await request(form, submitter);
      if (client.length) {
        for (const r of targets) clearAnswer(r);
      } else if (render) {
        for (const r of targets) destroyCharts(r);
        await render(data, form, submitter);
        for (const r of targets) {
          r.dataset.answer = "shown";
          r.dataset.inputs = inputs;
          markStale(r, false);
        }
      }
    } catch (error) {
      if (error && error.name === "AbortError") return;
      for (const r of targets) clearAnswer(r);
      clearErrors(form);
      showProblems(form, { client, error, aliases });
    } finally {
      setLoading(region, false);
      form.setAttribute("aria-busy", "false");
      for (const b of buttons) b.disabled = false;
      refreshStale();
    }
  });
}

/** A number from an input, or undefined when it is empty (the API then names the missing field). */
export function num(form, name) {
  const value = form.elements.namedItem(name).value.trim();
  if (value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : value;
}

export function int(form, name) {
  const n = num(form, name);
  return typeof n === "number" && Number.isInteger(n) ? n : n;
}

export function text(form, name) {
  const value = form.elements.namedItem(name).value.trim();
  return value === "" ? undefined : value;
}

export function fillSelect(select, options, { selected } = {}) {
  select.innerHTML = options
    .map((o) => {
      const { value, label } = typeof o === "object" ? o : { value: o, label: o };
      return `<option value="${esc(value)}"${String(value) === String(selected) ? " selected" : ""}>${esc(label)}</option>`;
    })
    .join("");
}

// ---------------------------------------------------------------- model panel

function isSummary(value) {
  return value && typeof value === "object" && typeof value.statement === "string" && "beats_baseline" in value;
}

function metricsTable(name, group) {
  const rows = Object.entries(group).filter(([, v]) => v && typeof v === "object" && !Array.isArray(v));
  const scalars = Object.entries(group).filter(([, v]) => typeof v === "number" || typeof v === "string" || typeof v === "boolean");
  let out = "";
  if (rows.length) {
    const cols = [...new Set(rows.flatMap(([, v]) => Object.keys(v).filter((k) => typeof v[k] !== "object")))];
    out += `<table class="metrics"><caption>${esc(name)}</caption><thead><tr><th scope="col">model / baseline</th>${cols
      .map((c) => `<th scope="col">${esc(c)}</th>`)
      .join("")}</tr></thead><tbody>${rows
      .map(([model, v]) => `<tr><th scope="row">${esc(model)}</th>${cols.map((c) => `<td>${esc(fmt(v[c]))}</td>`).join("")}</tr>`)
      .join("")}</tbody></table>`;
  }
  if (scalars.length) {
    out += `<dl class="kv"><dt class="caption">${esc(name)}</dt>${scalars
      .map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(fmt(v))}</dd></div>`)
      .join("")}</dl>`;
  }
  return out;
}

export function summaryBlock(summary) {
  const beats = summary.beats_baseline === true;
  const badge = beats
    ? `<span class="badge good">Beats the baseline</span>`
    : `<span class="badge bad">Does NOT beat the baseline</span>`;
  return `<div class="summary ${beats ? "beats" : "not-beats"}" data-beats-baseline="${beats}">
      ${badge}
      <p class="statement">${esc(summary.statement)}</p>
      <table class="versus"><thead><tr><th scope="col">${esc(summary.metric || "metric")}</th><th scope="col">score</th></tr></thead>
      <tbody><tr><th scope="row">model: ${esc(summary.model)}</th><td>${esc(fmt(summary.model_score))}</td></tr>
      <tr><th scope="row">baseline: ${esc(summary.baseline)}</th><td>${esc(fmt(summary.baseline_score))}</td></tr></tbody></table>
    </div>`;
}

/** Render /api/<service>/model: version, the verdict(s) against the baseline, all held-out metrics. */
export async function renderModelPanel(panel, service) {
  panel.innerHTML = "";
  setLoading(panel, true, "Loading model information…");
  try {
    const manifest = await api(`/api/${service}/model`);
    const metrics = manifest.metrics || {};
    const summaries = Object.entries(metrics).filter(([, v]) => isSummary(v));
    const groups = Object.entries(metrics).filter(([k, v]) => !isSummary(v) && v && typeof v === "object" && !Array.isArray(v));
    html(panel, `
      <h3>Model</h3>
      <p class="version">Version <code data-model-version>${esc(manifest.version)}</code>${
        manifest.created_at ? `, trained ${localTime(manifest.created_at)}` : ""}</p>
      ${summaries.length ? summaries.map(([, s]) => summaryBlock(s)).join("") : `<p class="summary-missing">This manifest has no summary against a baseline.</p>`}
      <details class="all-metrics"><summary>All held-out metrics</summary>${groups.map(([k, v]) => metricsTable(k, v)).join("")}</details>`);
    return manifest;
  } catch (error) {
    const why = error.status === 503 ? "no model is loaded yet" : "model information is unavailable";
    html(panel, `<h3>Model</h3><p class="error" role="alert">${esc(why)}: ${esc(error.message)}</p>`);
    return null;
  } finally {
    setLoading(panel, false);
  }
}

// ---------------------------------------------------------------- charts

export const COLORS = {
  blue: "#1f5fae",
  orange: "#d9650b",
  green: "#2e7d32",
  red: "#c62828",
  grey: "#6b7280",
  band: "rgba(217, 101, 11, 0.18)",
  bandBlue: "rgba(31, 95, 174, 0.15)",
};

/** Create (or replace) the Chart.js chart on a canvas. No animation: the numbers matter, not the motion. */
export function chart(canvas, config) {
  const Chart = window.Chart;
  if (!Chart) throw new Error("the chart library (vendor/chart.umd.min.js) did not load");
  const existing = Chart.getChart(canvas);
  if (existing) existing.destroy();
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options || {});
  return new Chart(canvas, config);
}

/** A plain data table for a chart, for keyboard and screen reader users. */
export function dataTable(caption, headers, rows) {
  return `<details class="data-table"><summary>${esc(caption)}: data table</summary><table><thead><tr>${headers
    .map((h) => `<th scope="col">${esc(h)}</th>`)
    .join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(typeof c === "number" ? fmt(c) : c)}</td>`).join("")}</tr>`)
    .join("")}</tbody></table></details>`;
}
