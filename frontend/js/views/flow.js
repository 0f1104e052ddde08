// Flow: a live gate board for one stadium (green/yellow/red, predicted waits, anomalies, redirect
// advice), refreshed on its own while readings arrive at POST /api/flow/ingest.
import { api, esc, fillSelect, fmt, html, setLoading, showErrors, clearErrors } from "../lib.js";

const STATES = { green: "Green", yellow: "Yellow", red: "Red" };

function gatesOf(status) {
  const gates = status.gates ?? [];
  return Array.isArray(gates) ? gates : Object.entries(gates).map(([id, g]) => ({ gateId: id, ...g }));
}

function gateCard(g) {
  const id = g.gateId ?? g.id ?? g.gate;
  const state = String(g.state || "unknown").toLowerCase();
  const wait = g.wait ?? g.predicted_wait;
  const r = g.redirect;
  return `<article class="gate ${esc(state)}" data-gate="${esc(id)}" data-state="${esc(state)}" aria-label="Gate ${esc(id)}: ${esc(STATES[state] || state)}">
    <h4><span>Gate ${esc(id)}</span><span class="state">${esc(STATES[state] || state)}</span></h4>
    <p class="wait" data-wait>${wait === null || wait === undefined ? "–" : `${fmt(wait, { digits: 1 })} min`}</p>
    ${g.anomaly ? `<p class="anomaly" data-anomaly>⚠ Anomaly${g.anomalyScore !== undefined ? ` (score ${fmt(g.anomalyScore, { digits: 2 })})` : ""}</p>` : ""}
    ${g.stale ? `<p class="stale" data-stale>No recent reading (stale)</p>` : ""}
    ${r ? `<p class="redirect" data-redirect>Send fans to gate <strong>${esc(r.gateId)}</strong>: ${fmt(r.wait, { digits: 1 })} min wait + ${fmt(r.walk_minutes, { digits: 1 })} min walk, saves ${fmt(r.saving_minutes, { digits: 1 })} min</p>` : ""}
    <p class="meta">${g.last_updated ? `updated ${esc(g.last_updated)}` : "no reading yet"}</p>
  </article>`;
}

export default {
  name: "flow",
  title: "Flow",
  lead: "Live gate board: each gate's predicted wait (green under 5 minutes, yellow 5–10, red over 10), anomalies "
    + "flagged by the anomaly model, and where to send fans when another gate saves time.",

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
        const gates = gatesOf(status);
        const count = (s) => gates.filter((g) => String(g.state).toLowerCase() === s).length;
        root.querySelector("#flow-board").innerHTML = gates.map(gateCard).join("") || `<p class="help">No gates reported.</p>`;
        const anomalies = gates.filter((g) => g.anomaly).length;
        root.querySelector("#flow-summary").innerHTML = `<strong>${esc(status.stadiumName || status.name || stadium)}</strong>: ${gates.length} gates —
          <span data-count="green">${count("green")} green</span>, <span data-count="yellow">${count("yellow")} yellow</span>,
          <span data-count="red">${count("red")} red</span>${anomalies ? `, <span class="anomaly">${anomalies} with an anomaly</span>` : ""}.
          ${status.model_version ? `Model <code>${esc(status.model_version)}</code>.` : ""}`;
        root.querySelector("#flow-updated").textContent = `Refreshed at ${new Date().toLocaleTimeString()}`
          + (Number(form.elements.every.value) ? `; next refresh in ${form.elements.every.value} s.` : "; automatic refresh paused.");
        card.dataset.refreshes = String(Number(card.dataset.refreshes || 0) + 1);
      } catch (error) {
        if (error.name === "AbortError") return;
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
