export default { name: "flow", title: "Flow", lead: "", mount(root) { root.textContent = "coming"; } };
