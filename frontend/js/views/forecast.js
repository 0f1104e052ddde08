export default { name: "forecast", title: "Forecast", lead: "", mount(root) { root.textContent = "coming"; } };
