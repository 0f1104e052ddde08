// The live monitoring panel every view shows: GET /api/<service>/monitoring rendered as the verdict,
// live error of the served model against its baseline over time (a chart), and input drift per
// feature. One call: renderMonitoringPanel(element, service).
import { api, chart, COLORS, dataTable, esc, fmt, html, localTime, pct, setLoading } from "./lib.js";

const STATUS_CLASS = { stable: "good", watch: "warn", drift: "bad" };

function verdictBadge(live) {
  if (!live) return `<span class="badge neutral">No actuals</span>`;
  if (live.beats_baseline === true) return `<span class="badge good">Beats the baseline live</span>`;
  if (live.beats_baseline === false) return `<span class="badge bad">Does NOT beat the baseline live</span>`;
  return `<span class="badge neutral">Not enough actuals yet</span>`;
}

function errorBlock(live) {
  if (!live) return "";
  const offline = live.offline
    ? `<tr><th scope="row">offline (held-out)</th><td>${esc(fmt(live.offline.model_score))}</td><td>${esc(fmt(live.offline.baseline_score))}</td><td>${esc(live.offline.metric)}</td></tr>`
    : "";
  const seen = live.in_training ? `; ${esc(live.in_training)} of them were rows the model was trained on` : "";
  return `<table class="versus" data-live-error>
      <thead><tr><th scope="col"></th><th scope="col">model: ${esc(live.model)}</th><th scope="col">baseline: ${esc(live.baseline)}</th><th scope="col">metric</th></tr></thead>
      <tbody><tr><th scope="row">live (${esc(live.actuals)} actuals)</th><td data-model-score>${esc(fmt(live.model_score))}</td><td data-baseline-score>${esc(fmt(live.baseline_score))}</td><td>${esc(live.metric)}</td></tr>${offline}</tbody>
    </table>
    <p class="help">Live error on the actuals received since this version went live (a verdict needs ${esc(live.minimum)})${seen}.</p>`;
}

function driftTable(drift) {
  const rows = Object.entries(drift.features || {});
  if (!rows.length) return `<p class="help" data-drift-note>${esc(drift.note)}</p>`;
  const body = rows.map(([name, f]) => {
    const share = f.kind === "number" ? f.out_of_range_share : f.unknown_share;
    const what = f.kind === "number" ? "out of training range" : "unknown";
    return `<tr data-feature="${esc(name)}"><th scope="row">${esc(name)}</th>
      <td><span class="badge ${STATUS_CLASS[f.status] || "neutral"}" data-status>${esc(f.status)}</span></td>
      <td>${f.psi === null ? "–" : esc(f.psi.toFixed(3))}</td><td>${esc(fmt(f.observations))}</td>
      <td title="${esc(what)}">${esc(pct(share))} ${esc(what)}</td></tr>`;
  }).join("");
  return `<table class="metrics drift" data-drift><caption>Input drift against the training profile</caption>
      <thead><tr><th scope="col">feature</th><th scope="col">status</th><th scope="col">PSI</th><th scope="col">values</th><th scope="col">outside training</th></tr></thead>
      <tbody>${body}</tbody></table>
    <p class="help">${esc(drift.note)}. PSI &lt; 0.1 stable, 0.1–0.25 watch, &gt; 0.25 drift.</p>`;
}

function drawErrors(canvas, live) {
  const days = live.by_day || [];
  chart(canvas, {
    type: "line",
    data: {
      labels: days.map((d) => d.day),
      datasets: [
        { label: `model (${live.model})`, data: days.map((d) => d.model), borderColor: COLORS.blue, backgroundColor: COLORS.blue, tension: 0 },
        { label: `baseline (${live.baseline})`, data: days.map((d) => d.baseline), borderColor: COLORS.orange, backgroundColor: COLORS.orange, borderDash: [6, 4], tension: 0 },
      ],
    },
    options: {
      plugins: { legend: { position: "bottom" } },
      scales: { y: { beginAtZero: true, title: { display: true, text: `${live.metric} per day of outcome` } } },
    },
  });
}

/** Render the serving version's monitoring into `panel`; resolves to the response (or null). */
export async function renderMonitoringPanel(panel, service) {
  panel.innerHTML = "";
  panel.classList.add("monitoring-panel", "card");
  setLoading(panel, true, "Loading live monitoring…");
  try {
    const body = await api(`/api/${service}/monitoring`);
    const current = body.versions.find((v) => v.serving) || body.versions[0];
    const live = current.live_error;
    const cls = live && live.beats_baseline === false ? "not-beats" : live && live.beats_baseline ? "beats" : "pending";
    html(panel, `
      <div class="monitoring-head"><h3>Live monitoring</h3><button type="button" class="secondary" data-refresh>Refresh</button></div>
      <p class="version">Version <code>${esc(current.model_version)}</code>, live since <span data-live-since>${current.live_since ? localTime(current.live_since) : "–"}</span>;
        <span data-requests>${esc(fmt(current.requests))}</span> requests observed over every worker.</p>
      <div class="summary ${cls}" data-verdict>${verdictBadge(live)}<p class="statement">${esc(current.verdict)}</p></div>
      ${errorBlock(live)}
      ${live && live.by_day.length ? `<div class="chart-box short"><canvas aria-label="Live error of the model and its baseline per day" role="img"></canvas></div>
        ${dataTable("Live error per day", ["day", "actuals", "model", "baseline"], live.by_day.map((d) => [d.day, d.actuals, d.model, d.baseline]))}` : ""}
      ${live ? "" : `<p class="help">${esc(body.actuals)}</p>`}
      ${driftTable(current.drift)}
      ${live ? `<p class="help">${esc(body.actuals)}. Outcomes arrive through <code>POST /api/${esc(service)}/actuals</code>.</p>` : ""}
      <p class="help">Counts and actuals are kept in <code>${esc(body.store)}</code>.</p>`);
    const canvas = panel.querySelector("canvas");
    if (canvas) drawErrors(canvas, live);
    panel.querySelector("[data-refresh]").addEventListener("click", () => renderMonitoringPanel(panel, service));
    return body;
  } catch (error) {
    const why = error.status === 503 ? "monitoring is unavailable" : "monitoring could not be loaded";
    html(panel, `<h3>Live monitoring</h3><p class="error" role="alert">${esc(why)}: ${esc(error.message)}</p>
      <button type="button" class="secondary" data-refresh>Retry</button>`);
    panel.querySelector("[data-refresh]").addEventListener("click", () => renderMonitoringPanel(panel, service));
    return null;
  } finally {
    setLoading(panel, false);
  }
}
