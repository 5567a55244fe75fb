// The service worker: it shows the notifications the server sends through
// the browser's push service (Web Push) while no page of longrun is open,
// and opens the configuration when one is clicked.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));

self.addEventListener("push", (e) => {
  let d;
  try { d = e.data.json(); } catch (_) { d = { title: "longrun", body: e.data ? e.data.text() : "" }; }
  e.waitUntil(self.registration.showNotification(d.title || "longrun", {
    body: d.body || "", tag: d.tag, renotify: false, data: { url: d.url || "/" },
  }));
});

// A click opens the configuration: in a page of longrun already open (it
// is told which), else in a new one.
self.addEventListener("notificationclick", (e) => {
  e.notification.close();
  const url = new URL(e.notification.data && e.notification.data.url || "/", self.location.origin).href;
  e.waitUntil((async () => {
    const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const p of pages) {
      if (new URL(p.url).origin !== self.location.origin) continue;
      p.postMessage({ type: "open", url });
      return p.focus();
    }
    return self.clients.openWindow(url);
  })());
});

// The push service renewed the subscription: the server is given the new
// one, so notifications go on without a visit.
self.addEventListener("pushsubscriptionchange", (e) => {
  e.waitUntil((async () => {
    const sub = e.newSubscription || await self.registration.pushManager.subscribe(e.oldSubscription.options);
    await fetch("/api/devices", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(sub.toJSON()) });
  })());
});
