// Demand: weekly units for a store x product at a price (with or without promotion), and the
// price curve: units and revenue against price, with and without promotion, the best price marked,
// prices outside those seen for the product marked (hollow points) and warned about. The verdict
// card shows the served model against the strongest baseline on the test window, and the target.
import { api, chart, COLORS, dataTable, esc, fillSelect, fmt, html, num, replace, text, wireForm } from "../lib.js";

const usd = (v) => `$${Number(v).toFixed(2)}`;
const day = (iso) => Date.parse(`${iso}T00:00:00Z`);            // a week's x on a linear axis (UTC ms)
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const promoted = (w) => w.display === 1 || w.feature === 1;

export default {
  name: "demand",
  title: "Demand",
  lead: "Weekly units of a frozen-pizza product in a store at a given price and promotion, and the price curve "
    + "that shows which price maximises revenue, with and without promotion.",

  mount(root) {
    html(root, `
      <div id="demand-verdict" class="card" aria-live="polite"><p class="help">Loading the served model…</p></div>
      <form id="demand-form" class="card" novalidate>
        <h3>Store, product and week</h3>
        <p class="help" id="demand-help">Any day of the week to predict; weeks run Thursday to Wednesday.</p>
        <div class="row">
          <div class="field"><label for="dm-date">Date</label><input id="dm-date" name="date" type="date"></div>
          <div class="field"><label for="dm-store">Store</label><select id="dm-store" name="store_id"></select></div>
          <div class="field"><label for="dm-product">Product</label><select id="dm-product" name="product_id"></select></div>
        </div>
        <div class="row">
          <div class="field"><label for="dm-price">Shelf price (USD)</label><input id="dm-price" name="price" type="number" step="0.01"></div>
          <div class="field"><label for="dm-base">Regular price (USD, optional)</label><input id="dm-base" name="base_price" type="number" step="0.01" placeholder="usual price"></div>
          <div class="field check"><input id="dm-promo" name="promotion" type="checkbox"><label for="dm-promo">Promotion (display and feature ad)</label></div>
          <div class="field actions"><button type="submit" value="predict">Predict units</button></div>
        </div>
        <fieldset class="row">
          <legend>Price curve</legend>
          <div class="field"><label for="dm-min">Lowest price (optional)</label><input id="dm-min" name="price_min" type="number" step="0.01" placeholder="lowest seen"></div>
          <div class="field"><label for="dm-max">Highest price (optional)</label><input id="dm-max" name="price_max" type="number" step="0.01" placeholder="highest seen"></div>
          <div class="field"><label for="dm-steps">Prices on the grid</label><input id="dm-steps" name="steps" type="number" value="21"></div>
          <div class="field actions"><button type="submit" value="curve">Show price curve</button></div>
        </fieldset>
        <p class="form-error" data-form-error role="alert" hidden></p>
      </form>
      <div id="demand-result" class="card result" aria-live="polite"><p class="help">Pick a store and product, then predict or show the price curve.</p></div>
      <section id="demand-history" class="card" aria-live="polite" aria-label="Actual weeks of the store and product">
        <h3>Actual weeks of this store and product</h3><p class="help">Loading…</p></section>
      <div id="demand-curve" class="card result" aria-live="polite" hidden></div>`);

    const form = root.querySelector("#demand-form");
    const out = root.querySelector("#demand-result");
    const curveBox = root.querySelector("#demand-curve");
    const historyBox = root.querySelector("#demand-history");
    let products = [];
    let weeks = null;       // /history of the chosen store x product: {for, body}
    let predicted = null;   // the latest prediction, drawn beside the actual weeks

    function target(f) {
      const body = { date: text(f, "date"), store_id: text(f, "store_id"), product_id: text(f, "product_id") };
      const base = num(f, "base_price");
      if (base !== undefined) body.base_price = base;
      return body;
    }

    const warnings = (list) => (list || []).map((w) => `<p class="warning" data-warning>${esc(w)}</p>`).join("");

    async function verdict() {
      const box = root.querySelector("#demand-verdict");
      try {
        const m = (await api("/api/demand/model")).metrics || {};
        const s = m.summary;
        const t = m.target;
        const totals = m.total_units;
        const mono = m.monotonicity;
        box.innerHTML = `
          <h3>Served model against the strongest baseline (test window)</h3>
          <p><span class="badge ${s.beats_baseline ? "good" : "bad"}" data-verdict>${s.beats_baseline ? "Beats" : "Does NOT beat"} the strongest baseline</span>
            <span class="badge ${t && t.met ? "good" : "bad"}" data-target>Target ≤ ${esc(t ? t.target_ratio : "–")}× ${t && t.met ? "met" : "NOT met"}</span></p>
          <p>Served <code data-served>${esc(s.model)}</code>: test MAE <strong>${fmt(s.model_score, { digits: 3 })}</strong>
            vs <code data-baseline>${esc(s.baseline)}</code> ${fmt(s.baseline_score, { digits: 3 })}
            (<span data-ratio>${fmt(s.ratio_to_baseline, { digits: 3 })}</span>×); chosen on the validation windows.</p>
          ${t ? `<p class="help" data-target-text>${esc(t.statement)}</p>` : ""}
          ${totals ? `<p class="help" data-totals>${esc(totals.statement)}</p>` : ""}
          ${mono ? `<p class="help" data-monotone>${esc(mono.statement)}</p>` : ""}`;
      } catch (error) {
        box.innerHTML = `<p class="error" role="alert">Model information is unavailable: ${esc(error.message)}</p>`;
      }
    }

    function pairOf(f) {
      return `${f.elements.store_id.value}|${f.elements.product_id.value}`;
    }

    /** The actual weeks of the chosen store x product (GET /history), with the test window's held-out
     * predictions and the latest prediction of this form beside them. */
    async function loadHistory() {
      const pair = pairOf(form);
      if (!form.elements.store_id.value || !form.elements.product_id.value) return;
      if (!weeks || weeks.for !== pair) {
        try {
          weeks = { for: pair, body: await api("/api/demand/history", { query: { store_id: form.elements.store_id.value, product_id: form.elements.product_id.value } }) };
        } catch (error) {
          weeks = null;
          replace(historyBox, `<h3>Actual weeks of this store and product</h3><p class="warning" data-no-history>No actual weeks to show: ${esc(error.message)}</p>`);
          return;
        }
      }
      if (pairOf(form) !== pair) return;   // the choice moved on while this was loading
      drawHistory(weeks.body);
    }

    function drawHistory(h) {
      const mine = predicted && predicted.pair === `${h.store_id}|${h.product_id}` ? predicted : null;
      if (!h.weeks.length) {
        replace(historyBox, `<h3>Actual weeks of this store and product</h3><p class="help" data-no-history>Store ${esc(h.store_id)} never sold product ${esc(h.product_id)} in the data: the model predicts it from the store's and the product's levels.</p>`);
        return;
      }
      const t = h.test;
      replace(historyBox, `<h3>Actual weeks of this store and product</h3>
        <p class="help" data-history-summary>Store ${esc(h.store_id)}, product ${esc(h.product_id)}: <strong>${h.weeks.length}</strong> weeks with sales in the data
          (${esc(h.weeks[0].week_ending)} to ${esc(h.weeks[h.weeks.length - 1].week_ending)}; the data has gaps). Filled points were on display or in the feature ad.
          In the test window (${esc(t.first_week)} to ${esc(t.last_week)}) the held-out predictions of <code>${esc(t.model)}</code> and of the strongest baseline
          <code>${esc(t.baseline)}</code> (fitted on earlier weeks only) stand beside the actual units${t.points.length ? "" : ": none of this pair's weeks fall in it"}.</p>
        <div class="chart-box"><canvas id="demand-history-chart" role="img" aria-label="Actual units per week, held-out predictions and the latest prediction"></canvas></div>
        ${dataTable("Actual weeks", ["week ending", "units", "shelf price", "regular price", "display", "feature ad", "TPR", "held-out model", "held-out baseline"],
          h.weeks.map((w) => { const p = t.points.find((x) => x.week_ending === w.week_ending);
            return [w.week_ending, w.units, usd(w.price), usd(w.base_price), w.display ? "yes" : "no", w.feature ? "yes" : "no", w.tpr ? "yes" : "no", p ? p.model : "", p ? p.baseline : ""]; }))}`);
      const xy = (list, key) => list.map((w) => ({ x: day(w.week_ending), y: w[key] }));
      chart(historyBox.querySelector("#demand-history-chart"), {
        type: "scatter",
        data: {
          datasets: [
            { label: "Actual units", data: xy(h.weeks, "units"), borderColor: COLORS.blue, backgroundColor: COLORS.blue,
              pointBackgroundColor: h.weeks.map((w) => (promoted(w) ? COLORS.blue : "#ffffff")), pointRadius: 4, borderWidth: 1 },
            { label: `Held-out prediction: ${t.model}`, data: xy(t.points, "model"), borderColor: COLORS.orange, backgroundColor: COLORS.orange, pointStyle: "rectRot", pointRadius: 6 },
            { label: `Held-out prediction: ${t.baseline} (baseline)`, data: xy(t.points, "baseline"), borderColor: COLORS.grey, backgroundColor: COLORS.grey, pointStyle: "triangle", pointRadius: 6 },
            { label: "Your prediction", data: mine ? [{ x: day(mine.week_ending), y: mine.units }] : [], borderColor: COLORS.green, backgroundColor: COLORS.green, pointStyle: "star", pointRadius: 11, pointBorderWidth: 3 },
          ],
        },
        options: {
          scales: { x: { type: "linear", ticks: { callback: (v) => isoDay(v), maxTicksLimit: 8 } }, y: { beginAtZero: true, title: { display: true, text: "units per week" } } },
          plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${isoDay(c.raw.x)} -> ${fmt(c.raw.y, { digits: 1 })}` } } },
        },
      });
    }

    /** The API compares the prices only once every field is valid; checked here, it shows beside those. */
    function check(f, submitter) {
      if (!submitter || submitter.value !== "curve") return [];
      const p = products.find((x) => x.product_id === f.elements.product_id.value);
      const min = num(f, "price_min");
      const max = num(f, "price_max");
      if (!p || (min === undefined && max === undefined) || typeof (min ?? 0) !== "number" || typeof (max ?? 0) !== "number") return [];
      const low = min ?? p.min_price;
      const high = max ?? p.max_price;
      if (low < high) return [];
      return [{ field: max !== undefined ? "price_max" : "price_min", problem: `price_min (${low}) must be below price_max (${high})` }];
    }

    async function predict(f) {
      const body = { ...target(f), price: num(f, "price"), promotion: f.elements.promotion.checked };
      return api("/api/demand/predict", { method: "POST", body });
    }

    function renderPredict(r) {
      const flags = [r.display && "display", r.feature && "feature ad", r.tpr && "temporary price reduction"].filter(Boolean);
      out.innerHTML = `<p class="big">Week ending ${esc(r.week_ending)}: <strong data-units>${fmt(r.prediction, { digits: 1 })}</strong> units expected</p>
        <p class="help">Store ${esc(r.store_id)}, product ${esc(r.product_id)} at ${usd(r.price)} (regular ${usd(r.base_price)}, ${esc(r.base_price_source)});
        ${flags.length ? esc(flags.join(", ")) : "no promotion"}. Model ${esc(r.model)}, version <code>${esc(r.model_version)}</code>. Drawn beside the actual weeks below.</p>
        ${warnings(r.warnings)}`;
      predicted = { pair: `${r.store_id}|${r.product_id}`, week_ending: r.week_ending, units: r.prediction };
      loadHistory();
    }

    async function curve(f) {
      const body = { ...target(f), steps: num(f, "steps") };
      for (const k of ["price_min", "price_max"]) {
        const v = num(f, k);
        if (v !== undefined) body[k] = v;
      }
      return api("/api/demand/price-curve", { method: "POST", body });
    }

    function renderCurve(r) {
      const off = r.without_promotion;
      const on = r.with_promotion;
      const xy = (c, key) => c.points.map((p) => ({ x: p.price, y: p[key] }));
      // hollow points where the price lies outside those seen for the product (an extrapolation)
      const fill = (c, color) => c.points.map((p) => (p.within_seen_prices ? color : "#ffffff"));
      const actual = weeks && weeks.for === `${r.store_id}|${r.product_id}` ? weeks.body.weeks : [];
      curveBox.hidden = false;
      curveBox.innerHTML = `<div class="chart-box"><canvas id="demand-chart" role="img" aria-label="Units and revenue against price, with and without promotion"></canvas></div>
        <div id="demand-curve-text"></div>`;
      chart(root.querySelector("#demand-chart"), {
        type: "scatter",
        data: {
          datasets: [
            { label: "Units, no promotion", data: xy(off, "units"), yAxisID: "units", showLine: true, borderColor: COLORS.blue, backgroundColor: COLORS.blue, pointBackgroundColor: fill(off, COLORS.blue), pointRadius: 3 },
            { label: "Units, with promotion", data: xy(on, "units"), yAxisID: "units", showLine: true, borderColor: COLORS.orange, backgroundColor: COLORS.orange, pointBackgroundColor: fill(on, COLORS.orange), pointRadius: 3 },
            { label: "Revenue, no promotion", data: xy(off, "revenue"), yAxisID: "revenue", showLine: true, borderColor: COLORS.blue, backgroundColor: COLORS.blue, borderDash: [6, 4], pointRadius: 0 },
            { label: "Revenue, with promotion", data: xy(on, "revenue"), yAxisID: "revenue", showLine: true, borderColor: COLORS.orange, backgroundColor: COLORS.orange, borderDash: [6, 4], pointRadius: 0 },
            { label: "Best price (max revenue)", data: [{ x: off.best_price, y: off.best_revenue }, { x: on.best_price, y: on.best_revenue }], yAxisID: "revenue",
              pointStyle: "star", pointRadius: 12, pointBorderWidth: 3, borderColor: COLORS.green, backgroundColor: COLORS.green, showLine: false },
            { label: "Actual weeks, no promotion (any week)", data: actual.filter((w) => !promoted(w)).map((w) => ({ x: w.price, y: w.units })), yAxisID: "units",
              pointStyle: "crossRot", pointRadius: 6, pointBorderWidth: 2, borderColor: COLORS.blue, backgroundColor: COLORS.blue, showLine: false },
            { label: "Actual weeks, on promotion (any week)", data: actual.filter(promoted).map((w) => ({ x: w.price, y: w.units })), yAxisID: "units",
              pointStyle: "crossRot", pointRadius: 6, pointBorderWidth: 2, borderColor: COLORS.orange, backgroundColor: COLORS.orange, showLine: false },
          ],
        },
        options: {
          interaction: { mode: "nearest", intersect: false },
          scales: {
            x: { type: "linear", title: { display: true, text: "shelf price (USD)" }, ticks: { callback: (v) => usd(v) } },
            units: { type: "linear", position: "left", title: { display: true, text: "units per week" }, beginAtZero: true },
            revenue: { type: "linear", position: "right", title: { display: true, text: "revenue per week (USD)" }, beginAtZero: true, grid: { drawOnChartArea: false } },
          },
          plugins: { tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${usd(c.raw.x)} -> ${fmt(c.raw.y, { digits: 1 })}` } } },
        },
      });
      root.querySelector("#demand-curve-text").innerHTML = `
        <p class="result-text" data-best>Best price without promotion <strong>${usd(off.best_price)}</strong>
          (${fmt(off.best_units, { digits: 1 })} units, ${usd(off.best_revenue)} revenue);
          with promotion <strong>${usd(on.best_price)}</strong> (${fmt(on.best_units, { digits: 1 })} units, ${usd(on.best_revenue)}).
          Promotion lift at the best no-promotion price: ×${fmt(r.promotion_lift_at_best_price, { digits: 2 })}.</p>
        <p class="help">Week ending ${esc(r.week_ending)}; prices seen for this product ${usd(r.observed_price_range[0])} – ${usd(r.observed_price_range[1])}
          (hollow points lie outside them); crosses are this store and product's actual weeks (${actual.length}), of any week of the year; model ${esc(r.model)}, version <code>${esc(r.model_version)}</code>.</p>
        ${warnings(r.warnings)}
        ${(r.notes || []).map((n) => `<p class="help">${esc(n)}</p>`).join("")}
        ${dataTable("Price curve", ["price", "seen price?", "units", "revenue", "units (promotion)", "revenue (promotion)"],
          off.points.map((p, i) => [usd(p.price), p.within_seen_prices ? "yes" : "no (extrapolated)", p.units, usd(p.revenue), on.points[i] ? on.points[i].units : "", on.points[i] ? usd(on.points[i].revenue) : ""]))}`;
    }

    const isCurve = (submitter) => submitter && submitter.value === "curve";
    wireForm(form, {
      request: async (f, submitter) => {
        if (isCurve(submitter)) await loadHistory();   // the actual weeks drawn on the curve
        return isCurve(submitter) ? curve(f) : predict(f);
      },
      render: (r, f, submitter) => (isCurve(submitter) ? renderCurve(r) : renderPredict(r)),
    }, { busyRegion: out, answer: (submitter) => (submitter === null ? [out, curveBox] : isCurve(submitter) ? curveBox : out), check });

    form.elements.store_id.addEventListener("change", loadHistory);
    form.elements.product_id.addEventListener("change", () => {
      const p = products.find((x) => x.product_id === form.elements.product_id.value);
      if (p) form.elements.price.value = p.usual_price.toFixed(2);
      loadHistory();
    });

    verdict();
    (async () => {
      try {
        const cat = await api("/api/demand/catalog");
        products = cat.products;
        fillSelect(form.elements.store_id, cat.stores.map((s) => ({ value: s.store_id, label: `Store ${s.store_id} (${fmt(s.mean_units, { digits: 1 })} units/wk)` })));
        fillSelect(form.elements.product_id, cat.products.map((p) => ({ value: p.product_id, label: `${p.product_id} ${p.manufacturer} (usual ${usd(p.usual_price)})` })));
        if (products.length) form.elements.price.value = products[0].usual_price.toFixed(2);
        form.elements.date.value = cat.last_week;
        root.querySelector("#demand-help").textContent += ` The data covers weeks ${cat.first_week} to ${cat.last_week}.`;
        loadHistory();
      } catch (error) {
        const box = form.querySelector("[data-form-error]");
        box.textContent = `Cannot load the catalog: ${error.message}`;
        box.hidden = false;
      }
    })();
  },
};
