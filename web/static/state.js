// What the page knows: the owner's configurations by id, their order, the
// open one; and the toasts that tell of what happened.
import { $ } from "./dom.js";

export const state = { configs: new Map(), order: [], selected: null, next: "", ws: null, retry: 0, opened: false, saving: false, viewing: null, device: false, seq: null, prefs: null };
// (viewing is the earlier version shown, read-only, while the URL names it;
// device, whether this browser is notified through its push service; seq,
// the number of the last update applied, null where the server numbers
// none; prefs, the owner's default channels.)

// on holds what app.js does for the other modules — open a configuration,
// show the open one, drop a deleted one — set once the page starts, so
// that no module imports app.js back.
export const on = { select() {}, showSelected() {}, removeConfig() {} };

// current is the open configuration, or null.
export const current = () => (state.selected && state.configs.get(state.selected)) || null;

// upsertNewer keeps c unless a newer state of it arrived first (a push can
// beat the answer to the request that caused it).
export function upsertNewer(c) {
  const prev = state.configs.get(c.id);
  if (prev && new Date(prev.updatedAt) > new Date(c.updatedAt)) return;
  upsert(c);
}

export function upsert(c) {
  if (!state.configs.has(c.id)) {
    state.order.unshift(c.id);
    state.order.sort((a, b) => {
      const ca = state.configs.get(a) || c, cb = state.configs.get(b) || c;
      return (cb.createdAt || "").localeCompare(ca.createdAt || "");
    });
  }
  state.configs.set(c.id, c);
}

// toast tells of something that happened, for a few seconds. A toast with
// a key replaces the one shown with the same key (its text, its click, its
// time), so a run of the same news is one toast; gone is called when it
// goes.
export function toast(text, kind = "", onclick, { key = "", gone = () => {} } = {}) {
  const box = $("toasts");
  let t = key && [...box.children].find((x) => x.dataset.key === key);
  if (t) { clearTimeout(t.timer); t.replaceWith(t = t.cloneNode(false)); } else t = document.createElement("div");
  t.className = "toast " + kind;
  t.setAttribute("role", "status");
  if (key) t.dataset.key = key;
  t.textContent = text;
  if (onclick) { t.style.cursor = "pointer"; t.addEventListener("click", onclick); }
  if (!t.isConnected) box.append(t);
  // A few at a time: the oldest go when a burst brings more.
  while (box.children.length > 3) box.firstElementChild.remove();
  t.timer = setTimeout(() => { t.remove(); gone(); }, 6000);
}

// unseen are the finished configurations the user was not watching, since
// their toast last went: one toast tells of them all.
const unseen = [];

function showReady() {
  if (!unseen.length) { const t = [...$("toasts").children].find((x) => x.dataset.key === "ready"); if (t) t.remove(); return; }
  const names = unseen.map((u) => `“${u.name}”`);
  const text = unseen.length === 1 ? `${names[0]} is ready.`
    : `${unseen.length} renders are ready: ${names.slice(-3).join(", ")}${unseen.length > 3 ? "…" : ""}`;
  toast(text, "", () => on.select(unseen.at(-1).id), { key: "ready", gone: () => { unseen.length = 0; } });
}

// tellReady adds c to the one toast of finished renders.
export function tellReady(c) {
  const i = unseen.findIndex((u) => u.id === c.id);
  if (i >= 0) unseen.splice(i, 1);
  unseen.push(c);
  showReady();
}

// seen takes configuration id out of that toast: the user has it open.
export function seen(id) {
  const i = unseen.findIndex((u) => u.id === id);
  if (i < 0) return;
  unseen.splice(i, 1);
  showReady();
}
