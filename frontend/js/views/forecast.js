// Forecast: the match form -> expected attendance, its interval as a band, the fill rate as a gauge.
import { api, chart, COLORS, dataTable, esc, fmt, html, pct, text, wireForm } from "../lib.js";

/** Names as the API compares them: case, accents and punctuation folded away. */
const normalize = (t) => String(t || "").normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/[^a-z0-9]+/g, " ").trim();
const COMPARABLE = 12;   // past matches drawn beside the forecast (the table lists every one returned)

const STAGES = ["Group Stage", "Round of 16", "Quarter-Finals", "Third Place", "Semi-Finals", "Final"];

export default {
  name: "forecast",
  title: "Forecast",
  lead: "Expected match attendance from the teams, stadium, kickoff time and stage and what the tournament has "
    + "shown so far, with an interval whose coverage was measured on held-out matchdays, and the stadium's fill rate.",

  mount(root) {
    html(root, `
      <form id="forecast-form" class="card" novalidate>
        <h3>Match</h3>
        <p class="help">Teams and stadiums the model knows are suggested as you type; a stadium may also be written as clients write it ("Stade Mohamed V (Casablanca)"); an unknown team counts as an average team (with a warning), an unknown stadium is refused with suggestions.</p>
        <div class="row">
          <div class="field"><label for="fc-team-a">Team A</label><input id="fc-team-a" name="team_a" type="text" list="fc-teams" autocomplete="off" value="Morocco"></div>
          <div class="field"><label for="fc-team-b">Team B</label><input id="fc-team-b" name="team_b" type="text" list="fc-teams" autocomplete="off" value="France"></div>
          <div class="field"><label for="fc-stadium">Stadium</label><input id="fc-stadium" name="stadium" type="text" list="fc-stadiums" autocomplete="off" size="28"></div>
        </div>
        <div class="row">
          <div class="field"><label for="fc-time">Kickoff (HH:MM, Afternoon, Evening or Night)</label><input id="fc-time" name="time" type="text" list="fc-times" value="Night"></div>
          <div class="field"><label for="fc-stage">Stage</label><select id="fc-stage" name="stage">${STAGES.map((s) => `<option${s === "Semi-Finals" ? " selected" : ""}>${s}</option>`).join("")}</select></div>
          <div class="field"><label for="fc-date">Date (optional)</label><input id="fc-date" name="date" type="date"></div>
          <div class="field actions"><button type="submit">Predict attendance</button></div>
        </div>
        <datalist id="fc-teams"></datalist><datalist id="fc-stadiums"></datalist>
        <datalist id="fc-times"><option value="Afternoon"></option><option value="Evening"></option><option value="Night"></option></datalist>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <section id="forecast-verdicts" class="card" aria-label="Verdict per competition"><h3>Verdict per competition</h3>
        <p class="help">Loading the held-out results…</p></section>
      <div id="forecast-result" class="card result" aria-live="polite">
        <p class="help">Fill in the match and press <em>Predict attendance</em>.</p>
      </div>`);

    const form = root.querySelector("#forecast-form");
    const out = root.querySelector("#forecast-result");
    const verdicts = root.querySelector("#forecast-verdicts");
    const NAMES = { afcon: "AFCON 2025", world_cup: "World Cup" };

    (async () => {
      try {
        const manifest = await api("/api/forecast/model");
        const all = (manifest.metrics && manifest.metrics.verdicts) || {};
        const rows = Object.entries(all).map(([competition, v]) => {
          const beaten = Object.values(v.beats || {}).filter(Boolean).length;
          const total = Object.keys(v.baselines_mae || {}).length;
          const target = v.target_ratio ? `; target ≤ ${v.target_ratio}× the strongest baseline: <strong data-target>${v.meets_target ? "met" : "NOT met"}</strong>` : "";
          const others = Object.entries(v.baselines_mae || {})
            .map(([b, mae]) => `<li>${esc(b)}: MAE ${fmt(mae, { digits: 0 })}${b === v.chosen ? " (served)" : v.beats[b] ? " — beaten" : " — NOT beaten"}</li>`).join("");
          const coverage = v.coverage == null ? "" : `<p>${Math.round(v.interval_level * 100)}% interval covered <span data-coverage>${pct(v.coverage)}</span> of ${v.coverage_n} test matches (mean width ${fmt(v.mean_interval_width, { digits: 0 })} spectators).</p>`;
          return `<div class="verdict" data-competition="${esc(competition)}" data-beats-strongest="${v.mae < v.baseline_mae}">
            <h4>${esc(NAMES[competition] || competition)}: ${v.mae < v.baseline_mae ? "beats" : "does NOT beat"} the strongest baseline (beats ${beaten} of ${total} baselines)</h4>
            <p>Served <code>${esc(v.chosen)}</code>: MAE <span data-mae>${fmt(v.mae, { digits: 0 })}</span> against ${esc(v.strongest_baseline_on_test)} <span data-baseline-mae>${fmt(v.baseline_mae, { digits: 0 })}</span>
              (<span data-ratio>${fmt(v.ratio_to_strongest_baseline, { digits: 3 })}</span>×)${target}.</p>
            <ul>${others}</ul>${coverage}
            <p class="statement" data-statement>${esc(v.statement)}</p></div>`;
        });
        html(verdicts, `<h3>Verdict per competition</h3>${rows.join("") || "<p>This model has no per-competition verdict.</p>"}`);
      } catch (error) {
        html(verdicts, `<h3>Verdict per competition</h3><p class="error" role="alert">Cannot load the verdicts: ${esc(error.message)}</p>`);
      }
    })();

    /** The API checks the teams only once every field is valid; checked here, it shows beside those. */
    function check(f) {
      const a = normalize(f.elements.team_a.value);
      const b = normalize(f.elements.team_b.value);
      return a && a === b ? [{ field: "team_b", problem: "must differ from team A" }] : [];
    }

    async function request(f) {
      const body = { team_a: text(f, "team_a"), team_b: text(f, "team_b"), stadium: text(f, "stadium"),
        time: text(f, "time"), stage: text(f, "stage") };
      const date = text(f, "date");
      if (date) body.date = date;
      const [r, past] = await Promise.allSettled([
        api("/api/forecast/predict", { method: "POST", body }),
        api("/api/forecast/matches", { query: { stadium: body.stadium, team_a: body.team_a, team_b: body.team_b, stage: body.stage, limit: 20 } }),
      ]);
      if (r.status === "rejected") throw r.reason;   // the prediction's errors name the form's fields
      return { body, r: r.value, past: past.status === "fulfilled" ? past.value : null, pastError: past.reason };
    }

    function comparable(r, past, pastError, level) {
      if (!past) {
        return `<h4>Comparable past matches</h4><p class="warning" data-no-history>No past crowds to show: ${esc(pastError ? pastError.message : "")}</p>`;
      }
      if (!past.matches.length) return `<h4>Comparable past matches</h4><p class="help" data-no-history>No earlier match at ${esc(past.stadium)} or of these teams in the data.</p>`;
      const why = { stadium: "at this stadium", team_a: esc(past.teams.team_a || "team A"), team_b: esc(past.teams.team_b || "team B"), stage: "same stage" };
      return `<h4>Comparable past matches: real crowds</h4>
        <p class="help" data-history-summary>${past.total} comparable ${past.total === 1 ? "match" : "matches"} of ${esc(past.competition === "afcon" ? "AFCON" : "the World Cup")} in the data
          (at ${esc(past.stadium)}, of ${esc(Object.values(past.teams).join(" or ") || "the teams")}${past.stage ? `, or of the ${esc(past.stage)} of ${esc(past.tournament)}` : ""});
          the latest ${Math.min(COMPARABLE, past.matches.length)} are drawn beside this forecast, each with its stadium's capacity.</p>
        <div class="chart-box" style="height: ${Math.max(220, 60 + 26 * (Math.min(COMPARABLE, past.matches.length) + 1))}px"><canvas id="forecast-history-chart" role="img" aria-label="Real attendance of comparable past matches and this forecast"></canvas></div>
        ${dataTable("Comparable past matches", ["day", "tournament", "stage", "match", "stadium", "attendance", "capacity", "fill", "why"],
          past.matches.map((m) => [m.day, m.tournament, m.stage, `${m.team_a} ${m.goals_a}–${m.goals_b} ${m.team_b}`, m.stadium, m.attendance, m.capacity, pct(m.fill_rate), m.why.map((w) => why[w]).join(", ")]))}`;
    }

    function drawComparable(r, past, level) {
      const shown = past.matches.slice(0, COMPARABLE).reverse();   // oldest first, then the forecast
      const n = shown.length;
      const labels = [...shown.map((m) => `${m.day} ${m.team_a} v ${m.team_b}`), `This forecast (${r.stage})`];
      const pad = (k) => Array(k).fill(null);
      const [lo, hi] = r.confidence_interval;
      chart(out.querySelector("#forecast-history-chart"), {
        type: "bar",
        data: {
          labels,
          datasets: [
            { label: "Real attendance at this stadium", data: [...shown.map((m) => (m.why.includes("stadium") ? m.attendance : null)), null], backgroundColor: COLORS.blue, grouped: false },
            { label: "Real attendance elsewhere (the teams, the stage)", data: [...shown.map((m) => (m.why.includes("stadium") ? null : m.attendance)), null], backgroundColor: COLORS.bandBlue, borderColor: COLORS.blue, borderWidth: 1, grouped: false },
            { label: `${level}% interval`, data: [...pad(n), [lo, hi]], backgroundColor: COLORS.band, borderColor: COLORS.orange, borderWidth: 1, grouped: false },
            { type: "line", label: "Expected attendance (this forecast)", data: [...pad(n), r.predicted_attendance], borderColor: COLORS.orange, backgroundColor: COLORS.orange, pointStyle: "rectRot", pointRadius: 8, showLine: false },
            { type: "line", label: "Capacity", data: [...shown.map((m) => m.capacity), r.stadium_capacity], borderColor: COLORS.grey, backgroundColor: COLORS.grey, pointStyle: "line", pointRotation: 90, pointRadius: 10, pointBorderWidth: 3, showLine: false },
          ],
        },
        options: {
          indexAxis: "y",
          scales: { x: { beginAtZero: true, ticks: { callback: (v) => fmt(v, { digits: 0 }) } }, y: { ticks: { autoSkip: false, font: { size: 11 } } } },
          plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${Array.isArray(c.raw) ? c.raw.map((v) => fmt(v, { digits: 0 })).join(" – ") : fmt(c.raw, { digits: 0 })}` } } },
        },
      });
    }

    function render({ body, r, past, pastError }) {
      const [lo, hi] = r.confidence_interval;
      const level = Math.round(r.interval_level * 100);
      out.innerHTML = `
        <h3>${esc(body.team_a)} v ${esc(body.team_b)}, ${esc(r.stage)}, ${esc(r.stadium)}</h3>
        <p class="big">Expected attendance <strong data-attendance>${fmt(r.predicted_attendance, { digits: 0 })}</strong>
          (${level}% interval <span data-interval>${fmt(lo, { digits: 0 })} – ${fmt(hi, { digits: 0 })}</span>)
          of <span data-capacity>${fmt(r.stadium_capacity, { digits: 0 })}</span> seats.</p>
        ${(r.warnings || []).map((w) => `<p class="warning" data-warning>${esc(w)}</p>`).join("")}
        <div class="row">
          <div style="flex: 2 1 420px; min-width: 0"><div class="chart-box short"><canvas id="forecast-chart" role="img"
            aria-label="Attendance ${fmt(r.predicted_attendance, { digits: 0 })}, interval ${fmt(lo, { digits: 0 })} to ${fmt(hi, { digits: 0 })}, capacity ${fmt(r.stadium_capacity, { digits: 0 })}"></canvas></div></div>
          <div style="flex: 1 1 220px"><div class="chart-box short"><canvas id="forecast-gauge" role="img"
            aria-label="Fill rate ${pct(r.fill_rate)}"></canvas></div>
            <p class="result-text" style="text-align:center">Fill rate <strong data-fill-rate>${pct(r.fill_rate)}</strong></p></div>
        </div>
        <p class="help">Forecast as a further match of ${esc(r.tournament)} on ${esc(r.match_day)}; kickoff hour ${esc(r.kickoff_hour)}, model ${esc(r.model)} (${esc(r.competition)}), version <code>${esc(r.model_version)}</code>.</p>
        <div id="forecast-history">${comparable(r, past, pastError, level)}</div>`;
      chart(out.querySelector("#forecast-chart"), {
        type: "bar",
        data: {
          labels: ["Attendance"],
          datasets: [
            { type: "bar", label: `${level}% interval`, data: [[lo, hi]], backgroundColor: COLORS.band, borderColor: COLORS.orange, borderWidth: 1, barPercentage: 0.6 },
            { type: "line", label: "Expected attendance", data: [r.predicted_attendance], borderColor: COLORS.blue, backgroundColor: COLORS.blue, pointStyle: "rectRot", pointRadius: 9, showLine: false },
            // a vertical tick at the capacity's value (pointStyle "line" turned 90°), not a dash across a range
            { type: "line", label: "Capacity", data: [r.stadium_capacity], borderColor: COLORS.grey, backgroundColor: COLORS.grey, pointStyle: "line", pointRotation: 90, pointRadius: 30, pointBorderWidth: 3, showLine: false },
          ],
        },
        options: {
          indexAxis: "y",
          scales: { x: { min: 0, suggestedMax: r.stadium_capacity * 1.05, ticks: { callback: (v) => fmt(v, { digits: 0 }) } } },
          plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${Array.isArray(c.raw) ? c.raw.map((v) => fmt(v, { digits: 0 })).join(" – ") : fmt(c.raw, { digits: 0 })}` } } },
        },
      });
      const fill = Math.max(0, Math.min(1, r.fill_rate));
      chart(out.querySelector("#forecast-gauge"), {
        type: "doughnut",
        data: { labels: ["Filled", "Empty"], datasets: [{ data: [fill, 1 - fill], backgroundColor: [COLORS.blue, "#e7ebf0"], borderWidth: 0 }] },
        options: { rotation: -90, circumference: 180, cutout: "65%", plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => `${c.label}: ${pct(c.raw)}` } } } },
      });
      if (past && past.matches.length) drawComparable(r, past, level);
    }

    wireForm(form, { request, render }, { busyRegion: out, answer: out, check });

    (async () => {
      try {
        const [stadiums, teams] = await Promise.all([api("/api/forecast/stadiums"), api("/api/forecast/teams")]);
        const sList = root.querySelector("#fc-stadiums");
        sList.innerHTML = stadiums.stadiums.map((s) => `<option value="${esc(s.name)}">${esc(s.city)}, ${fmt(s.capacity, { digits: 0 })} seats</option>`).join("");
        root.querySelector("#fc-teams").innerHTML = teams.teams.map((t) => `<option value="${esc(t.name)}"></option>`).join("");
        const stadium = form.elements.stadium;
        if (!stadium.value) {
          const marrakech = stadiums.stadiums.find((s) => /marrak/i.test(s.name) || /marrak/i.test(s.city));
          stadium.value = (marrakech || stadiums.stadiums[0] || { name: "" }).name;
        }
      } catch (error) {
        const box = form.querySelector("[data-form-error]");
        box.textContent = `Cannot list the stadiums and teams: ${error.message}`;
        box.hidden = false;
      }
    })();
  },
};
