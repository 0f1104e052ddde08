// The single-page shell: one view per service, chosen by the URL hash (#sales, #forecast, ...).
import { esc, renderModelPanel, serviceAvailable, apiBase } from "./lib.js";
import { renderMonitoringPanel } from "./monitoring.js";
import sales from "./views/sales.js";
import forecast from "./views/forecast.js";
import demand from "./views/demand.js";
import flow from "./views/flow.js";
import powerball from "./views/powerball.js";

const VIEWS = [sales, forecast, demand, flow, powerball];
const DEFAULT = "sales";
const state = new Map(); // name -> {section, mounted, controller}

function buildShell() {
  const nav = document.getElementById("nav");
  const main = document.getElementById("views");
  nav.innerHTML = VIEWS.map((v) => `<a href="#${v.name}" id="tab-${v.name}" data-view="${v.name}">${esc(v.title)}</a>`).join("");
  for (const view of VIEWS) {
    const section = document.createElement("section");
    section.id = `view-${view.name}`;
    section.className = "view";
    section.hidden = true;
    section.setAttribute("aria-labelledby", `heading-${view.name}`);
    section.innerHTML = `
      <header class="view-header">
        <h2 id="heading-${view.name}" tabindex="-1">${esc(view.title)}</h2>
        <p class="lead">${esc(view.lead)}</p>
      </header>
      <div class="unavailable" role="alert" hidden></div>
      <div class="view-grid">
        <div class="view-body"></div>
        <aside class="model-panel" aria-label="${esc(view.title)} model and baseline" aria-live="polite"></aside>
      </div>
      <section class="monitoring-panel" aria-label="${esc(view.title)} live monitoring" aria-live="polite"></section>`;
    main.append(section);
    state.set(view.name, { view, section, mounted: false, controller: null });
  }
}

async function mount(entry) {
  const { view, section } = entry;
  entry.mounted = true;
  const box = section.querySelector(".unavailable");
  const body = section.querySelector(".view-body");
  const panel = section.querySelector(".model-panel");
  body.innerHTML = `<p class="loading" role="status">Checking the ${esc(view.name)} service…</p>`;
  if (!(await serviceAvailable(view.name))) {
    body.innerHTML = "";
    panel.hidden = true;
    section.querySelector(".monitoring-panel").hidden = true;
    box.hidden = false;
    box.innerHTML = `<strong>The ${esc(view.name)} service is not available.</strong>
      It is not running behind ${esc(apiBase() || "this site")} (GET /api/${esc(view.name)}/health did not answer),
      so this view cannot show answers. Start it (<code>make run</code> trains and serves every built service) and reload.`;
    section.dataset.available = "false";
    return;
  }
  section.dataset.available = "true";
  body.innerHTML = "";
  renderModelPanel(panel, view.name);
  renderMonitoringPanel(section.querySelector(".monitoring-panel"), view.name);
  entry.controller = view.mount(body, { section, refreshModel: () => renderModelPanel(panel, view.name) }) || null;
}

function route() {
  const wanted = location.hash.replace(/^#/, "");
  const name = state.has(wanted) ? wanted : DEFAULT;
  for (const [key, entry] of state) {
    const active = key === name;
    entry.section.hidden = !active;
    const tab = document.getElementById(`tab-${key}`);
    if (active) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
    if (!active && entry.controller && entry.controller.hide) entry.controller.hide();
  }
  const entry = state.get(name);
  document.title = `${entry.view.title} · Stadium ML platform`;
  if (!entry.mounted) mount(entry);
  else if (entry.controller && entry.controller.show) entry.controller.show();
  return entry;
}

buildShell();
window.addEventListener("hashchange", () => {
  const entry = route();
  entry.section.querySelector("h2").focus();
});
route();
