// Powerball: valid tickets, the honest evaluation against random picks, the recent draws and the number
// frequencies of the current era (both from the served artifact's draws).
import { api, chart, COLORS, dataTable, esc, fmt, html, wireForm } from "../lib.js";

const balls = (whites, power) => `${whites.map((b) => `<span class="ball" data-white>${b}</span>`).join("")}<span class="ball power" data-power title="Powerball">${power}</span>`;

export default {
  name: "powerball",
  title: "Powerball",
  lead: "Valid Powerball tickets sampled from the model's probabilities, with the measured evidence of whether "
    + "the model does any better than random picks (draws are random: expect it not to), the latest draws and the draw statistics.",

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
      <form id="pb-draws-form" class="card" novalidate>
        <h3>Latest draws</h3>
        <div class="row">
          <div class="field"><label for="pb-limit">Draws to show (1–500)</label><input id="pb-limit" name="limit" type="number" value="20"></div>
          <div class="field actions"><button type="submit">Show draws</button></div>
        </div>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <div id="pb-draws" class="card result" aria-live="polite"></div>
      <form id="pb-stats-form" class="card" novalidate>
        <h3>Draw statistics</h3>
        <div class="row">
          <div class="field"><label for="pb-window">Hot and cold over the latest draws (10–500)</label><input id="pb-window" name="window" type="number" value="50"></div>
          <div class="field actions"><button type="submit">Update statistics</button></div>
        </div>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <div id="pb-stats" class="card result" aria-live="polite"></div>`);

    const form = root.querySelector("#pb-form");
    const out = root.querySelector("#pb-result");
    const drawsForm = root.querySelector("#pb-draws-form");
    const drawsOut = root.querySelector("#pb-draws");
    const statsForm = root.querySelector("#pb-stats-form");
    const statsOut = root.querySelector("#pb-stats");

    wireForm(form, {
      request: (f) => api("/api/powerball/predict", { query: { count: f.elements.count.value.trim(), seed: f.elements.seed.value.trim() } }),
      render: (r) => {
        out.innerHTML = `
          <p class="honest" data-evaluation data-edge="${r.edge_detected}"><strong>${r.edge_detected ? "Edge measured:" : "No edge over chance:"}</strong> ${esc(r.evaluation)}</p>
          <ol class="tickets">${r.tickets.map((t) => `<li data-ticket>${balls(t.white_balls, t.powerball)}</li>`).join("")}</ol>
          <p class="help">Seed <code data-seed>${esc(r.seed)}</code> (enter it again for the same tickets). ${esc(String(r.method).replace(/\.\s*$/, ""))}. Model <code>${esc(r.model_version)}</code>.</p>`;
      },
    }, { answer: out });

    wireForm(drawsForm, {
      request: (f) => api("/api/powerball/draws", { query: { limit: f.elements.limit.value.trim() } }),
      render: (r) => {
        const oldestFirst = [...r.draws].reverse();
        drawsOut.innerHTML = `
          <p class="result-text" data-draws-summary>The latest <strong>${r.draws.length}</strong> of ${fmt(r.total_draws, { digits: 0 })} draws in the data,
            ${esc(oldestFirst.length ? oldestFirst[0].date : "–")} to ${esc(r.draws.length ? r.draws[0].date : "–")}; model <code>${esc(r.model_version)}</code>.</p>
          <div class="chart-box short"><canvas id="pb-draws-chart" role="img" aria-label="The numbers of the latest ${r.draws.length} draws, by date"></canvas></div>
          <ol class="tickets draws" reversed>${r.draws.slice(0, 10).map((d) => `<li data-draw="${esc(d.date)}"><span class="draw-date">${esc(d.date)}</span>${balls(d.white_balls, d.powerball)}${
            d.multiplier ? `<span class="help"> Power Play ×${esc(d.multiplier)}</span>` : ""}</li>`).join("")}</ol>
          ${dataTable("Latest draws", ["date", "white balls", "Powerball", "Power Play", "era"],
            r.draws.map((d) => [d.date, d.white_balls.join(" "), String(d.powerball), d.multiplier ? `×${d.multiplier}` : "–", d.era]))}`;
        const labels = oldestFirst.map((d) => d.date);
        chart(drawsOut.querySelector("#pb-draws-chart"), {
          type: "scatter",
          data: {
            labels,
            datasets: [
              { label: "White balls", data: oldestFirst.flatMap((d) => d.white_balls.map((b) => ({ x: d.date, y: b }))), backgroundColor: COLORS.blue, pointRadius: 3 },
              { label: "Powerball", data: oldestFirst.map((d) => ({ x: d.date, y: d.powerball })), backgroundColor: COLORS.red, pointStyle: "rectRot", pointRadius: 5 },
            ],
          },
          options: {
            scales: { x: { type: "category", ticks: { maxTicksLimit: 10, maxRotation: 0 } }, y: { min: 0, title: { display: true, text: "number drawn" } } },
            plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label} ${c.raw.y} on ${c.raw.x}` } } },
          },
        });
      },
    }, { answer: drawsOut });

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

    wireForm(statsForm, {
      request: (f) => api("/api/powerball/stats", { query: { window: f.elements.window.value.trim() } }),
      render: (s) => {
        const list = (xs) => xs.map((x) => `${x.number} (${x.count})`).join(", ");
        statsOut.innerHTML = `
          <p id="pb-stats-text" class="result-text">${fmt(s.draws, { digits: 0 })} draws of the current era (${esc(s.era.name)}: white 1–${s.era.white_max}, Powerball 1–${s.era.powerball_max}),
            ${esc(s.first_draw)} to ${esc(s.last_draw)}.<br><span data-uniformity>White balls: ${esc(s.white_balls.uniformity.statement)}</span><br>
            Powerball: ${esc(s.powerball.uniformity.statement)}<br><span class="help">${esc(s.note)}</span></p>
          <div class="chart-box"><canvas id="pb-white-chart" role="img" aria-label="White ball frequencies in the current era"></canvas></div>
          <div class="chart-box short"><canvas id="pb-power-chart" role="img" aria-label="Powerball frequencies in the current era"></canvas></div>
          <div id="pb-hotcold"><p class="help">Over the latest ${s.window} draws (expected ${fmt(s.white_balls.window_expected_per_number, { digits: 2 })} per white number):
            hot ${esc(list(s.white_balls.hot))}; cold ${esc(list(s.white_balls.cold))}. Hot and cold numbers are what chance produces; they do not predict the next draw.</p></div>
          ${dataTable("White ball frequencies", ["number", "times drawn", "draws since seen"], s.white_balls.frequencies.map((x) => [String(x.number), x.count, x.draws_since_seen]))}`;
        bars(statsOut.querySelector("#pb-white-chart"), s.white_balls, "White ball", COLORS.blue);
        bars(statsOut.querySelector("#pb-power-chart"), s.powerball, "Powerball", COLORS.red);
      },
    }, { answer: statsOut });

    drawsForm.requestSubmit();
    statsForm.requestSubmit();
  },
};
