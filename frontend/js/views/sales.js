// Sales: the served forecast model against the strongest baseline (from its manifest); a store picker ->
// history and the served model's forecast with its interval band; a one-week predict form.
import { api, chart, combineErrors, COLORS, dataTable, esc, fillSelect, fmt, html, int, num, pct, summaryBlock, text, wireForm } from "../lib.js";

const money = (v) => `$${fmt(v, { digits: 0 })}`;

function addDays(iso, days) {
  const d = new Date(iso + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** The Friday that ends the Saturday..Friday week of a day (the API's week_ending). */
function weekEnding(iso) {
  const d = new Date(iso + "T00:00:00Z");
  return addDays(iso, (5 - d.getUTCDay() + 7) % 7);
}

const yes = (met) => (met === null || met === undefined
  ? `<span class="badge">not measured</span>`
  : met ? `<span class="badge good">met</span>` : `<span class="badge bad">NOT met</span>`);

const TARGET_LABELS = {
  wmae_ratio_test_origins: "WMAE / level-adjusted seasonal naive, sealed test origins",
  wmae_ratio_latest_13_weeks: "WMAE / level-adjusted seasonal naive, latest 13 weeks",
  coverage_test_pooled: "90% interval coverage, test, pooled",
  coverage_test_min_store: "90% interval coverage, test, worst store",
  coverage_test_holiday_weeks: "90% interval coverage, test, holiday weeks",
};

/** One target row: ratios to 3 decimals, coverages in percent; a target the data cannot measure says so. */
function targetRow(name, t) {
  const label = TARGET_LABELS[name] || name.replaceAll("_", " ");
  let value;
  if (t.value === undefined) value = esc(t.statement || "–");
  else if (name.startsWith("wmae_ratio")) value = `${fmt(t.value, { digits: 3 })} (target ${esc(t.target)})`;
  else value = pct(t.value);
  const target = t.value === undefined ? "–" : esc(t.target);
  return `<tr data-target="${esc(name)}"><th scope="row">${esc(label)}</th><td>${value}</td><td>${target}</td><td>${yes(t.met)}</td></tr>`;
}

/** Test coverage and mean width per segment of one kind (band, holiday week), from `coverage_by`. */
function coverageTable(kind, cov) {
  if (!cov || !cov.segments) return "";
  const rows = Object.entries(cov.segments).map(([seg, c]) => `<tr data-coverage="${esc(kind)}:${esc(seg)}">
      <th scope="row">${esc(seg)}</th><td>${pct(c.coverage)}</td><td>${money(c.mean_width)}</td><td>${fmt(c.n, { digits: 0 })}</td></tr>`);
  return `<table class="metrics" data-coverage-kind="${esc(kind)}"><caption>Test 90% interval coverage by ${esc(kind.replaceAll("_", " "))}</caption>
      <thead><tr><th scope="col">${esc(kind.replaceAll("_", " "))}</th><th scope="col">coverage</th><th scope="col">mean width</th><th scope="col">weeks</th></tr></thead>
      <tbody>${rows.join("")}</tbody></table>`;
}

/** The served model against the strongest baseline, and the targets, as the manifest records them. */
function servedCard(metrics) {
  const targets = Object.entries(metrics.targets || {});
  const cov = metrics.test_coverage || {};
  return `${summaryBlock(metrics.summary)}
    <p class="help" data-choice>${esc(metrics.choice.reason)}</p>
    <table class="metrics" id="sales-targets"><caption>Targets</caption>
      <thead><tr><th scope="col">what</th><th scope="col">value</th><th scope="col">target</th><th scope="col">verdict</th></tr></thead>
      <tbody>${targets.map(([name, t]) => targetRow(name, t)).join("")}</tbody></table>
    ${coverageTable("band", cov.band)}
    ${coverageTable("holiday_week", cov.holiday_week)}`;
}

export default {
  name: "sales",
  title: "Sales",
  lead: "Weekly Walmart store sales: a store's history with a 1 to 13 week forecast from the model chosen on "
    + "rolling-origin validation and its 90% interval, and one week's prediction from the RandomForest + XGBoost ensemble.",

  mount(root) {
    html(root, `
      <section id="sales-served" class="card" aria-live="polite">
        <h3>Served forecast model</h3>
        <div id="sales-served-body"><p class="help">Loading the model's backtest…</p></div>
      </section>
      <form id="sales-forecast-form" class="card" novalidate aria-describedby="sales-forecast-help">
        <h3>History and forecast</h3>
        <p id="sales-forecast-help" class="help">Pick a store; the chart shows its latest weeks of actual sales and the weeks after the history with the forecast interval.</p>
        <div class="row">
          <div class="field"><label for="sales-store">Store</label><select id="sales-store" name="store_id"></select></div>
          <div class="field"><label for="sales-weeks">Weeks of history</label><input id="sales-weeks" name="weeks" type="number" inputmode="numeric" value="52"></div>
          <div class="field"><label for="sales-steps">Weeks to forecast (1 to 13)</label><input id="sales-steps" name="steps" type="number" inputmode="numeric" value="13"></div>
          <div class="field actions"><button type="submit">Show history and forecast</button></div>
        </div>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <div id="sales-forecast-result" class="card result" aria-live="polite"><p class="help">Loading the stores…</p></div>

      <form id="sales-predict-form" class="card" novalidate>
        <h3>Predict one week</h3>
        <p class="help">Any day of the week to predict (the week runs Saturday to Friday and is named by its Friday), up to 52 weeks after the history.</p>
        <div class="row">
          <div class="field"><label for="sp-store">Store</label><select id="sp-store" name="Store"></select></div>
          <div class="field"><label for="sp-date">Date</label><input id="sp-date" name="Date" type="date"></div>
          <div class="field check"><input id="sp-holiday" name="Holiday_Flag" type="checkbox"><label for="sp-holiday">Holiday week</label></div>
        </div>
        <div class="row">
          <div class="field"><label for="sp-temp">Temperature (°F)</label><input id="sp-temp" name="Temperature" type="number" step="any" value="70"></div>
          <div class="field"><label for="sp-fuel">Fuel price (USD/gal)</label><input id="sp-fuel" name="Fuel_Price" type="number" step="any" value="3.5"></div>
          <div class="field"><label for="sp-cpi">CPI</label><input id="sp-cpi" name="CPI" type="number" step="any" value="215"></div>
          <div class="field"><label for="sp-unemp">Unemployment (%)</label><input id="sp-unemp" name="Unemployment" type="number" step="any" value="7.5"></div>
        </div>
        <div class="row"><div class="field actions"><button type="submit">Predict</button></div></div>
        <p class="form-error" data-form-error role="alert" hidden></p>
        <div id="sales-predict-result" class="result" aria-live="polite"></div>
      </form>`);

    const fform = root.querySelector("#sales-forecast-form");
    const pform = root.querySelector("#sales-predict-form");
    const resultBox = root.querySelector("#sales-forecast-result");

    let weeks = null;  // first and last week of the history, from /stores

    async function requestStore(form) {
      const store = int(form, "store_id");
      const answers = await Promise.allSettled([
        api("/api/sales/history", { query: { store_id: store, weeks: form.elements.weeks.value.trim() } }),
        api("/api/sales/forecast", { method: "POST", body: { store_id: store, steps: int(form, "steps") } }),
      ]);
      const failed = answers.filter((a) => a.status === "rejected").map((a) => a.reason);
      if (failed.length) throw combineErrors(failed);  // both requests' field errors at once
      return { store, hist: answers[0].value, fc: answers[1].value };
    }

    function renderStore({ store, hist, fc }) {
      html(resultBox, `
        <div class="chart-box"><canvas id="sales-chart" role="img" aria-label="Weekly sales: history, forecast and interval"></canvas></div>
        <p id="sales-forecast-summary" class="result-text"></p>
        <div id="sales-forecast-table"></div>`);
      const h = hist.history;
      const f = fc.forecast;
      const labels = [...h.map((p) => p.Date), ...f.map((p) => p.Date)];
      const pad = (n) => Array(n).fill(null);
      const last = h.length ? h[h.length - 1].Sales : null;
      const level = Math.round(fc.interval_level * 100);
      chart(root.querySelector("#sales-chart"), {
        type: "line",
        data: {
          labels,
          datasets: [
            { label: "Actual weekly sales", data: [...h.map((p) => p.Sales), ...pad(f.length)], borderColor: COLORS.blue, backgroundColor: COLORS.blue, pointRadius: 0, borderWidth: 2 },
            { label: `Forecast (${fc.model})`, data: [...pad(Math.max(h.length - 1, 0)), ...(h.length ? [last] : []), ...f.map((p) => p.Sales)], borderColor: COLORS.orange, backgroundColor: COLORS.orange, borderDash: [6, 4], pointRadius: 2, borderWidth: 2 },
            { label: `${level}% interval (lower)`, data: [...pad(h.length), ...f.map((p) => p.lower)], borderColor: "transparent", pointRadius: 0, fill: false },
            { label: `${level}% interval`, data: [...pad(h.length), ...f.map((p) => p.upper)], borderColor: "transparent", backgroundColor: COLORS.band, pointRadius: 0, fill: "-1" },
          ],
        },
        options: {
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: { labels: { filter: (item) => !item.text.endsWith("(lower)") } },
            tooltip: { callbacks: { label: (c) => (c.raw === null ? null : `${c.dataset.label}: ${money(c.raw)}`) } },
          },
          scales: { y: { ticks: { callback: (v) => money(v) } }, x: { ticks: { maxTicksLimit: 12 } } },
        },
      });
      root.querySelector("#sales-forecast-summary").innerHTML =
        `Store <strong>${store}</strong>: ${h.length} weeks of history to ${esc(h.length ? h[h.length - 1].Date : "–")}, `
        + `forecast of ${f.length} weeks to ${esc(f.length ? f[f.length - 1].Date : "–")} with a ${level}% interval `
        + `(last forecast week: ${money(f[f.length - 1].Sales)}, ${money(f[f.length - 1].lower)} to ${money(f[f.length - 1].upper)}). `
        + `Forecaster <code data-forecast-model>${esc(fc.model)}</code>, model <code>${esc(fc.model_version)}</code>.`;
      root.querySelector("#sales-forecast-table").innerHTML = dataTable("Forecast", ["week ending", "forecast", `lower ${level}%`, `upper ${level}%`],
        f.map((p) => [p.Date, money(p.Sales), money(p.lower), money(p.upper)]));
      resultBox.dataset.store = String(store);
    }

    wireForm(fform, { request: requestStore, render: renderStore }, { busyRegion: resultBox, answer: resultBox });

    const predictOut = root.querySelector("#sales-predict-result");
    /** The API's week rule (docs/architecture.md, "Sales past the history"), checked here so that a date out of
     * range shows beside the other fields' problems, which the API reports before it looks at the week. */
    function checkPredict(form) {
      const day = text(form, "Date");
      if (!weeks || !day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return [];
      const week = weekEnding(day);
      const earliest = addDays(weeks.first, 52 * 7);
      const latest = addDays(weeks.last, 52 * 7);
      if (week < earliest) return [{ field: "Date", problem: `must fall in a week ending on or after ${earliest} (52 weeks of history are needed for the same-week-last-year lag)` }];
      if (week > latest) return [{ field: "Date", problem: `must fall in a week ending on or before ${latest} (at most 52 weeks after the history ends on ${weeks.last})` }];
      return [];
    }
    wireForm(pform, {
      request: (form) => {
        const body = {
          Store: int(form, "Store"),
          Date: text(form, "Date"),
          Holiday_Flag: form.elements.Holiday_Flag.checked ? 1 : 0,
          Temperature: num(form, "Temperature"),
          Fuel_Price: num(form, "Fuel_Price"),
          CPI: num(form, "CPI"),
          Unemployment: num(form, "Unemployment"),
        };
        return api("/api/sales/predict", { method: "POST", body }).then((r) => ({ body, r }));
      },
      render: ({ body, r }) => {
        predictOut.innerHTML = `<p class="big">Store ${body.Store}, week ending ${esc(r.week_ending)}: <strong data-prediction>${money(r.prediction)}</strong></p>
        <p class="help">RandomForest ${money(r.components.random_forest)}, XGBoost ${money(r.components.xgboost)} (averaged).
        Lag features from the ${r.lags_from === "forecast" ? "ARIMA forecast (the week is after the history)" : "actual history"}.
        Model <code>${esc(r.model_version)}</code>.</p>`;
      },
    }, { answer: predictOut, check: checkPredict });

    (async () => {
      const box = root.querySelector("#sales-served-body");
      try {
        html(box, servedCard((await api("/api/sales/model")).metrics));
      } catch (error) {
        html(box, `<p class="error" role="alert">The model's backtest is unavailable: ${esc(error.message)}</p>`);
      }
    })();

    (async () => {
      try {
        const info = await api("/api/sales/stores");
        fillSelect(fform.elements.store_id, info.stores.map((s) => ({ value: s, label: `Store ${s}` })));
        fillSelect(pform.elements.Store, info.stores.map((s) => ({ value: s, label: `Store ${s}` })));
        weeks = { first: info.first_week, last: info.last_week };
        pform.elements.Date.value = addDays(info.last_week, 7);
        root.querySelector("#sales-forecast-help").textContent +=
          ` History covers ${info.first_week} to ${info.last_week}.`;
        fform.requestSubmit();
      } catch (error) {
        const box = fform.querySelector("[data-form-error]");
        box.textContent = `Cannot list the stores: ${error.message}`;
        box.hidden = false;
      }
    })();
  },
};
