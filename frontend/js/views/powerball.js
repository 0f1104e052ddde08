export default { name: "powerball", title: "Powerball", lead: "", mount(root) { root.textContent = "coming"; } };
