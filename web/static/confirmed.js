// The page an address's confirmation ends on tells longrun's open tabs in
// this browser, so they stop saying "Confirmation pending".
if (window.BroadcastChannel) new BroadcastChannel("longrun").postMessage({ type: "address-confirmed" });
