// Flow: a live gate board for one stadium (green/yellow/red, predicted waits, anomalies, redirect
// advice), refreshed on its own while readings arrive at POST /api/flow/ingest.
import { api, esc, fillSelect, fmt, html, localTime, markStale, setLoading, showErrors, clearErrors } from "../lib.js";

const STATES = { green: "Green", yellow: "Yellow", red: "Red", stale: "Stale", unknown: "No data" };

function gatesOf(status) {
  const gates = status.gates ?? [];
  return Array.isArray(gates) ? gates : Object.entries(gates).map(([id, g]) => ({ gateId: id, ...g }));
}

const when = (iso) => localTime(iso);   // the viewer's local time, UTC on hover

/** "45 s", "12 min", "3 h", "9 days": how old a reading is. */
export function age(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

function gateCard(g) {
  const id = g.gateId ?? g.id ?? g.gate;
  const state = String(g.state || "unknown").toLowerCase();
  const wait = g.wait ?? g.predicted_wait;
  const r = g.redirect;
  const stale = state === "stale" || (g.stale && wait !== null && wait !== undefined);
  const waitText = wait === null || wait === undefined ? "–" : `${fmt(wait, { digits: 1 })} min`;
  return `<article class="gate ${esc(stale ? "stale" : state)}" data-gate="${esc(id)}" data-state="${esc(stale ? "stale" : state)}" aria-label="Gate ${esc(id)}: ${esc(STATES[stale ? "stale" : state] || state)}">
    <h4><span>Gate ${esc(id)}</span><span class="state">${esc(STATES[stale ? "stale" : state] || state)}</span></h4>
    <p class="wait" data-wait>${stale ? `<s title="predicted from a reading too old to trust">${waitText}</s>` : waitText}</p>
    ${g.anomaly && !stale ? `<p class="anomaly" data-anomaly>⚠ Anomaly${g.anomalyScore !== undefined ? ` (score ${fmt(g.anomalyScore, { digits: 2 })})` : ""}</p>` : ""}
    ${stale ? `<p class="stale" data-stale>No recent reading: the newest is <span data-age>${esc(age(g.age_seconds))}</span> old; not counted, never a redirect target</p>` : ""}
    ${r && !stale ? `<p class="redirect" data-redirect>Send ${r.fans_per_minute !== undefined ? `up to ${fmt(r.fans_per_minute, { digits: 0 })} fans/min ` : "fans "}to gate <strong>${esc(r.gateId)}</strong>: ${fmt(r.wait, { digits: 1 })} min wait${r.target_wait_after !== undefined ? ` (${fmt(r.target_wait_after, { digits: 1 })} min with them)` : ""} + ${fmt(r.walk_minutes, { digits: 1 })} min walk, saves ${fmt(r.saving_minutes, { digits: 1 })} min</p>` : ""}
    <p class="meta">${g.last_updated ? `reading of ${when(g.last_updated)}` : "no reading yet"}</p>
  </article>`;
}

function countsOf(status, gates) {
  if (status.counts) return status.counts;
  const count = (s) => gates.filter((g) => String(g.state).toLowerCase() === s && !g.stale).length;
  return { green: count("green"), yellow: count("yellow"), red: count("red"),
    stale: gates.filter((g) => g.stale && g.wait !== null && g.wait !== undefined).length,
    unknown: gates.filter((g) => g.wait === null || g.wait === undefined).length };
}

export default {
  name: "flow",
  title: "Flow",
  lead: "Live gate board: each gate's predicted wait (green under 5 minutes, yellow 5–10, red over 10; grey when its "
    + "newest reading is too old), anomalies flagged by the detector named below, and where to send fans when another "
    + "gate saves time, without pushing that gate into red.",

  mount(root) {
    html(root, `
      <form id="flow-form" class="card" novalidate>
        <h3>Stadium</h3>
        <div class="row">
          <div class="field"><label for="flow-stadium">Stadium</label><select id="flow-stadium" name="stadiumId"></select></div>
          <div class="field"><label for="flow-every">Refresh every</label><select id="flow-every" name="every">
            <option value="2">2 seconds</option><option value="5" selected>5 seconds</option><option value="15">15 seconds</option><option value="0">never (paused)</option></select></div>
          <div class="field actions"><button type="submit">Refresh now</button></div>
        </div>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <div id="flow-board-card" class="card" aria-live="polite">
        <p id="flow-summary" class="result-text"></p>
        <div id="flow-board" class="board"></div>
        <p id="flow-updated" class="help"></p>
        <p id="flow-model" class="help" data-flow-model></p>
      </div>`);

    const form = root.querySelector("#flow-form");
    const card = root.querySelector("#flow-board-card");
    let timer = null;
    let visible = true;
    let inflight = null;
    let first = true;

    async function refresh() {
      const stadium = form.elements.stadiumId.value;
      if (!stadium) return;
      if (inflight) inflight.abort();
      inflight = new AbortController();
      if (first) setLoading(card, true, "Loading the gate board…");
      try {
        const status = await api("/api/flow/status", { query: { stadiumId: stadium }, signal: inflight.signal });
        clearErrors(form);
        card.dataset.answer = "shown";
        card.dataset.stadium = stadium;
        markStale(card, false);
        const gates = gatesOf(status);
        const counts = countsOf(status, gates);
        root.querySelector("#flow-board").innerHTML = gates.map(gateCard).join("") || `<p class="help">No gates reported.</p>`;
        const anomalies = gates.filter((g) => g.anomaly && !g.stale).length;
        root.querySelector("#flow-summary").innerHTML = `<strong>${esc(status.stadiumName || status.name || stadium)}</strong>: ${gates.length} gates —
          <span data-count="green">${counts.green} green</span>, <span data-count="yellow">${counts.yellow} yellow</span>,
          <span data-count="red">${counts.red} red</span>${counts.stale ? `, <span data-count="stale">${counts.stale} stale</span>` : ""}${
          counts.unknown ? `, <span data-count="unknown">${counts.unknown} without readings</span>` : ""}${
          anomalies ? `, <span class="anomaly">${anomalies} with an anomaly</span>` : ""}.
          ${status.model_version ? `Model <code>${esc(status.model_version)}</code>` : ""}${
          status.anomaly_detector ? `, anomaly detector <code data-detector>${esc(status.anomaly_detector)}</code>.` : "."}`;
        root.querySelector("#flow-updated").innerHTML = `Refreshed at ${status.generated_at ? when(status.generated_at) : esc(new Date().toLocaleTimeString())} (your local time; UTC on hover)`
          + (Number(form.elements.every.value) ? `; next refresh in ${esc(form.elements.every.value)} s.` : "; automatic refresh paused.");
        card.dataset.refreshes = String(Number(card.dataset.refreshes || 0) + 1);
      } catch (error) {
        if (error.name === "AbortError") return;
        clearErrors(form);
        // another stadium's board must not read as this one's; the same stadium's stays, marked as old
        if (card.dataset.stadium !== stadium) {
          for (const id of ["#flow-summary", "#flow-board", "#flow-updated"]) root.querySelector(id).innerHTML = "";
          card.dataset.answer = "none";
          delete card.dataset.stadium;
        } else {
          markStale(card, true, "This board is from the last refresh that worked; the latest refresh failed.");
        }
        showErrors(form, error, { stadium: "stadiumId", stadium_id: "stadiumId" }, { focus: false });
      } finally {
        if (first) setLoading(card, false);
        first = false;
      }
    }

    function schedule() {
      if (timer) clearInterval(timer);
      timer = null;
      const every = Number(form.elements.every.value);
      if (visible && every > 0) timer = setInterval(refresh, every * 1000);
    }

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      refresh();
      schedule();
    });
    form.elements.stadiumId.addEventListener("change", () => { first = true; refresh(); schedule(); });
    form.elements.every.addEventListener("change", schedule);

    (async () => {
      try {
        const manifest = await api("/api/flow/model");
        const m = manifest.metrics || {};
        const lines = [m.summary?.statement, m.anomaly_summary?.statement].filter(Boolean);
        root.querySelector("#flow-model").innerHTML = lines.length ? `Held-out results: ${lines.map(esc).join(". ")}.` : "";
      } catch (error) {
        root.querySelector("#flow-model").textContent = "";
      }
    })();
    (async () => {
      try {
        const body = await api("/api/flow/stadiums");
        const list = body.stadiums || [];
        fillSelect(form.elements.stadiumId, list.map((s) => (typeof s === "string" ? { value: s, label: s }
          : { value: s.id ?? s.stadiumId, label: `${s.name ?? s.id}${s.city ? `, ${s.city}` : ""}` })));
        await refresh();
        schedule();
      } catch (error) {
        showErrors(form, error);
      }
    })();

    return {
      show() { visible = true; refresh(); schedule(); },
      hide() { visible = false; schedule(); },
    };
  },
};
