// What the page knows: the owner's configurations by id, their order, the
// open one; and the toasts that tell of what happened.
import { $ } from "./dom.js";

export const state = { configs: new Map(), order: [], selected: null, next: "", ws: null, retry: 0, opened: false, saving: false };

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

// toast tells of something that happened, for a few seconds.
export function toast(text, kind = "", onclick) {
  const t = document.createElement("div");
  t.className = "toast " + kind;
  t.setAttribute("role", "status");
  t.textContent = text;
  if (onclick) { t.style.cursor = "pointer"; t.addEventListener("click", onclick); }
  const box = $("toasts");
  box.append(t);
  // A few at a time: the oldest go when a burst (exploring) brings more.
  while (box.children.length > 3) box.firstElementChild.remove();
  setTimeout(() => t.remove(), 6000);
}
