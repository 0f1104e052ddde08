// Powerball: valid tickets, the honest evaluation against random picks, and number frequencies.
import { api, chart, COLORS, esc, fmt, html, int, wireForm } from "../lib.js";

export default {
  name: "powerball",
  title: "Powerball",
  lead: "Valid Powerball tickets sampled from the model's probabilities, with the measured evidence of whether "
    + "the model does any better than random picks (draws are random: expect it not to), and the draw statistics.",

  mount(root) {
    html(root, `
      <form id="pb-form" class="card" novalidate>
        <h3>Tickets</h3>
        <div class="row">
          <div class="field"><label for="pb-count">Number of tickets (1–10)</label><input id="pb-count" name="count" type="number" value="3"></div>
          <div class="field"><label for="pb-seed">Seed (optional, for the same tickets again)</label><input id="pb-seed" name="seed" type="number" placeholder="random"></div>
          <div class="field actions"><button type="submit">Generate tickets</button></div>
        </div>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <div id="pb-result" class="card result" aria-live="polite"><p class="help">Press <em>Generate tickets</em>.</p></div>
      <form id="pb-stats-form" class="card" novalidate>
        <h3>Draw statistics</h3>
        <div class="row">
          <div class="field"><label for="pb-window">Hot and cold over the latest draws (10–500)</label><input id="pb-window" name="window" type="number" value="50"></div>
          <div class="field actions"><button type="submit">Update statistics</button></div>
        </div>
        <p class="form-error" data-form-error role="alert" hidden></p>
        <div id="pb-stats" aria-live="polite">
          <p id="pb-stats-text" class="result-text"></p>
          <div class="chart-box"><canvas id="pb-white-chart" role="img" aria-label="White ball frequencies in the current era"></canvas></div>
          <div class="chart-box short"><canvas id="pb-power-chart" role="img" aria-label="Powerball frequencies in the current era"></canvas></div>
          <div id="pb-hotcold"></div>
        </div>
      </form>`);

    const form = root.querySelector("#pb-form");
    const out = root.querySelector("#pb-result");
    const statsForm = root.querySelector("#pb-stats-form");

    wireForm(form, async (f) => {
      const r = await api("/api/powerball/predict", { query: { count: f.elements.count.value.trim(), seed: f.elements.seed.value.trim() } });
      out.innerHTML = `
        <p class="honest" data-evaluation data-edge="${r.edge_detected}"><strong>${r.edge_detected ? "Edge measured:" : "No edge over chance:"}</strong> ${esc(r.evaluation)}</p>
        <ol class="tickets">${r.tickets.map((t) => `<li data-ticket>${t.white_balls.map((b) => `<span class="ball" data-white>${b}</span>`).join("")}<span class="ball power" data-power title="Powerball">${t.powerball}</span></li>`).join("")}</ol>
        <p class="help">Seed <code data-seed>${esc(r.seed)}</code> (enter it again for the same tickets). ${esc(String(r.method).replace(/\.\s*$/, ""))}. Model <code>${esc(r.model_version)}</code>.</p>`;
    }, { busyRegion: out });

    function bars(canvas, pool, label, color) {
      const freq = pool.frequencies;
      chart(canvas, {
        type: "bar",
        data: {
          labels: freq.map((x) => String(x.number)),
          datasets: [
            { type: "bar", label: `${label}: times drawn`, data: freq.map((x) => x.count), backgroundColor: color },
            { type: "line", label: "expected if uniform", data: freq.map(() => pool.uniformity.expected_per_number), borderColor: COLORS.grey, borderDash: [5, 4], pointRadius: 0, borderWidth: 2 },
          ],
        },
        options: { scales: { x: { ticks: { autoSkip: true, maxRotation: 0 } }, y: { beginAtZero: true } } },
      });
    }

    async function loadStats(f) {
      const s = await api("/api/powerball/stats", { query: { window: f.elements.window.value.trim() } });
      root.querySelector("#pb-stats-text").innerHTML = `${fmt(s.draws, { digits: 0 })} draws of the current era (${esc(s.era.name)}: white 1–${s.era.white_max}, Powerball 1–${s.era.powerball_max}),
        ${esc(s.first_draw)} to ${esc(s.last_draw)}.<br><span data-uniformity>White balls: ${esc(s.white_balls.uniformity.statement)}</span><br>
        Powerball: ${esc(s.powerball.uniformity.statement)}<br><span class="help">${esc(s.note)}</span>`;
      bars(root.querySelector("#pb-white-chart"), s.white_balls, "White ball", COLORS.blue);
      bars(root.querySelector("#pb-power-chart"), s.powerball, "Powerball", COLORS.red);
      const list = (xs) => xs.map((x) => `${x.number} (${x.count})`).join(", ");
      root.querySelector("#pb-hotcold").innerHTML = `<p class="help">Over the latest ${s.window} draws (expected ${fmt(s.white_balls.window_expected_per_number, { digits: 2 })} per white number):
        hot ${esc(list(s.white_balls.hot))}; cold ${esc(list(s.white_balls.cold))}. Hot and cold numbers are what chance produces; they do not predict the next draw.</p>`;
    }

    wireForm(statsForm, loadStats, { busyRegion: root.querySelector("#pb-stats") });
    statsForm.requestSubmit();
  },
};
