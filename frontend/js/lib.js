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

/** Show or hide a loading message in a region (aria-busy for assistive technology). */
export function setLoading(region, loading, text = "Loading…") {
  region.setAttribute("aria-busy", loading ? "true" : "false");
  let note = region.querySelector(":scope > .loading");
  if (loading) {
    if (!note) {
      note = document.createElement("p");
      note.className = "loading";
      note.setAttribute("role", "status");
      region.prepend(note);
    }
    note.textContent = text;
  } else if (note) {
    note.remove();
  }
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

/**
 * Put an API error next to the fields its details name; the rest goes in the form's error box.
 * `aliases` maps an API field name to a form control name when they differ.
 */
export function showErrors(form, error, aliases = {}, { focus = true } = {}) {
  const unplaced = [];
  let first = null;
  const details = error instanceof ApiError ? error.details : [];
  for (const detail of details) {
    const raw = String(detail.field ?? "").replace(/^(body|query)\./, "");
    const name = aliases[raw] ?? raw;
    const control = name && form.elements.namedItem(name);
    const input = control && (control instanceof RadioNodeList ? control[0] : control);
    if (input && input.id !== undefined) {
      const slot = fieldErrorSlot(input);
      slot.textContent = slot.textContent ? `${slot.textContent}; ${detail.problem}` : detail.problem;
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      unplaced.push(detail.field ? `${detail.field}: ${detail.problem}` : detail.problem);
    }
  }
  if (!first || unplaced.length) {
    const box = form.querySelector("[data-form-error]");
    const status = error instanceof ApiError && error.status ? ` (HTTP ${error.status})` : "";
    const text = unplaced.length ? unplaced.join("; ") : error.message;
    if (box) {
      box.textContent = `Error${status}: ${text}`;
      box.hidden = false;
    }
  }
  if (first && focus) first.focus();
}

/** Wire a form: submit -> clear errors, show loading, run `submit`, put errors next to fields. */
export function wireForm(form, submit, { aliases = {}, busyRegion } = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const region = busyRegion || form;
    setLoading(region, true);
    form.setAttribute("aria-busy", "true");
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    for (const b of buttons) b.disabled = true;
    try {
      await submit(form, event.submitter || null);
    } catch (error) {
      if (error && error.name === "AbortError") return;
      showErrors(form, error, aliases);
    } finally {
      setLoading(region, false);
      form.setAttribute("aria-busy", "false");
      for (const b of buttons) b.disabled = false;
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
        manifest.created_at ? `, trained ${esc(manifest.created_at)}` : ""}</p>
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
