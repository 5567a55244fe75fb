// Notifications on this device with the page closed: the service worker,
// a subscription at the browser's push service with the server's key, and
// the server told of it (POST /api/devices). Where the browser has no push
// service, notifications still show while the page is open.
import { $ } from "./dom.js";
import { api, errorText } from "./api.js";
import { state, toast } from "./state.js";

const supported = () => "serviceWorker" in navigator && "PushManager" in window && window.Notification;

// key is the server's VAPID public key as the push manager takes it.
function key(b64) {
  const s = atob(b64.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - b64.length % 4) % 4));
  return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
}

let registration = null;
let publicKey = null;

// showDevice says on the header's button whether this device is notified.
function showDevice() {
  const b = $("notify-perm");
  b.hidden = false;
  if (Notification.permission === "denied") {
    b.textContent = "Notifications blocked";
    b.disabled = true;
    b.title = "This browser blocks longrun's notifications: allow them in the site's settings.";
    return;
  }
  b.disabled = false;
  b.textContent = state.device ? "Notified on this device ✓" : "Notify me on this device";
  b.setAttribute("aria-pressed", state.device ? "true" : "false");
  b.title = state.device ? "Finished renders are notified here even with the page closed; click to stop."
    : "Be told when a render finishes, even with the page closed or the phone locked.";
}

async function subscribe() {
  if (await Notification.requestPermission() !== "granted") return showDevice();
  let sub;
  try {
    sub = await registration.pushManager.getSubscription() ||
      await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(publicKey) });
  } catch (err) {
    showDevice();
    return toast(`This browser could not subscribe to its push service (${err.message}); you are notified while the page is open.`, "bad");
  }
  const { res, data } = await api("POST", "/api/devices", sub.toJSON());
  if (!res.ok) {
    sub.unsubscribe();
    showDevice();
    return toast(errorText(data, "The server did not take this device."), "bad");
  }
  state.device = true;
  showDevice();
  toast("This device will be notified when a render finishes, even with the page closed.");
}

async function unsubscribe() {
  const sub = await registration.pushManager.getSubscription();
  if (sub) {
    await api("DELETE", "/api/devices", { endpoint: sub.endpoint });
    await sub.unsubscribe();
  }
  state.device = false;
  showDevice();
}

// wireDevice registers the service worker and sets up the header's button:
// device notifications where the server sends them and the browser can
// take them, else notifications while the page is open.
export async function wireDevice() {
  const b = $("notify-perm");
  if (!window.Notification) return;
  if (supported()) {
    const { res, data } = await api("GET", "/api/push/key");
    if (res.ok) publicKey = data.publicKey;
  }
  if (!publicKey) { // page notifications only
    if (Notification.permission !== "default") return;
    b.hidden = false;
    b.addEventListener("click", async () => { await Notification.requestPermission(); b.hidden = true; });
    return;
  }
  try {
    registration = await navigator.serviceWorker.register("/sw.js");
    await navigator.serviceWorker.ready;
  } catch (err) {
    return; // no service worker here (a private window, an insecure origin)
  }
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.type === "open") location.assign(e.data.url);
  });
  const sub = await registration.pushManager.getSubscription();
  state.device = !!sub && Notification.permission === "granted";
  if (sub && state.device) api("POST", "/api/devices", sub.toJSON()); // the server may have forgotten it
  showDevice();
  b.addEventListener("click", () => (state.device ? unsubscribe() : subscribe()));
}
