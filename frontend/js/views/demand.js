export default { name: "demand", title: "Demand", lead: "", mount(root) { root.textContent = "coming"; } };
