// The list of the owner's configurations: rows updated in place, searched
// and filtered on the server, paged with "Load more".
import { $, el } from "./dom.js";
import { api, errorText } from "./api.js";
import { on, state, toast } from "./state.js";
import { summary } from "./classifier.js";

// rows are the list's rows by configuration id, kept and updated in place:
// a progress push changes a bar's width, never the element under a click.
const rows = new Map();

function rowFor(id) {
  let r = rows.get(id);
  if (r) return r;
  r = { li: document.createElement("li"), btn: Object.assign(document.createElement("button"), { type: "button", className: "row" }),
    thumb: Object.assign(document.createElement("img"), { alt: "", className: "thumb", width: 48, height: 48 }),
    name: el("span", "name"), badge: el("span", "badge"), size: el("span", "size"), stale: el("span", "stale-note", " · outdated"),
    when: el("span", "when"), times: el("span", "times"),
    mini: el("span", "mini"), bar: el("span", "") };
  r.li.dataset.id = id;
  const meta = el("span", "meta"), text = el("span", "text");
  meta.append(r.badge, r.size, r.stale, r.when);
  r.mini.append(r.bar);
  text.append(r.name, meta, r.times, r.mini);
  r.btn.append(r.thumb, text);
  r.li.append(r.btn);
  r.btn.addEventListener("click", () => on.select(id));
  rows.set(id, r);
  return r;
}

function updateRow(r, c) {
  r.li.className = c.id === state.selected ? "selected" : "";
  r.btn.setAttribute("aria-current", c.id === state.selected ? "true" : "false");
  // The server's thumbnail (a few kilobytes), not the image (megabytes).
  const thumb = c.imageUrl && c.imageUrl + "&thumb=1";
  if (thumb && r.thumb.getAttribute("src") !== thumb) r.thumb.src = thumb;
  r.thumb.hidden = !c.imageUrl;
  r.thumb.classList.toggle("stale", !!c.outdated);
  r.name.textContent = c.name;
  r.btn.title = c.name; // the whole name, on hover and focus
  r.badge.className = "badge " + c.status;
  r.badge.textContent = c.status === "rendering" ? `rendering ${Math.round(c.progress * 100)}%`
    : c.status === "queued" && c.queue ? (c.queue.ahead ? `queued · ${c.queue.ahead} ahead` : "queued · next") : c.status;
  r.size.textContent = c.kind === "julia" ? `${c.params.width}×${c.params.height}` : summary(c.params);
  r.stale.hidden = !c.outdated;
  r.when.textContent = c.status === "done" && c.stats ? ` · ${c.stats.renderMs} ms` : "";
  // The current version's render: queued, started, finished (or failed,
  // cancelled); the full dates, and the last change, on hover.
  const hms = (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const ended = { done: "finished", failed: "failed", cancelled: "cancelled" }[c.status] || "ended";
  const times = [["queued", c.queuedAt], ["started", c.startedAt], [ended, c.finishedAt]].filter(([, t]) => t);
  r.times.textContent = times.map(([what, t]) => `${what} ${hms(t)}`).join(" · ");
  r.times.title = times.map(([what, t]) => `${what} ${new Date(t).toLocaleString()}`)
    .concat(`created ${new Date(c.createdAt).toLocaleString()}`, `last changed ${new Date(c.updatedAt).toLocaleString()}`).join("\n");
  // The search and the status filter hide what does not match.
  const q = $("search").value.trim().toLowerCase(), only = $("status-filter").value;
  r.li.hidden = (q && !c.name.toLowerCase().includes(q)) || (only && c.status !== only);
  r.mini.hidden = c.status !== "rendering";
  r.bar.style.width = `${Math.round(c.progress * 100)}%`;
}

export function renderList() {
  const ul = $("list");
  for (const [id, r] of rows) {
    if (!state.configs.has(id)) { r.li.remove(); rows.delete(id); }
  }
  let prev = null;
  for (const id of state.order) {
    const c = state.configs.get(id);
    if (!c) continue;
    const r = rowFor(id);
    updateRow(r, c);
    const want = prev ? prev.nextSibling : ul.firstChild;
    if (want !== r.li) ul.insertBefore(r.li, want);
    prev = r.li;
  }
  const empty = $("list-empty"), filtered = $("search").value.trim() || $("status-filter").value;
  empty.hidden = state.order.length > 0;
  empty.textContent = filtered ? "Nothing matches the search and filter."
    : "Nothing yet. Configure a fractal and save it: it renders in the background.";
  $("more").hidden = !state.next;
}

// loadList loads the first page of the list, or the next (more), as the
// search and the status filter ask: the server filters, so "Load more"
// pages through the matches, not through everything.
export async function loadList(more = false) {
  const q = new URLSearchParams();
  const name = $("search").value.trim(), only = $("status-filter").value;
  if (name) q.set("q", name);
  if (only) q.set("status", only);
  if (more && state.next) q.set("cursor", state.next);
  const query = q.toString();
  const { res, data } = await api("GET", "/api/configurations" + (query ? "?" + query : ""));
  if (!res.ok) return toast(errorText(data, "Could not load your configurations"), "bad");
  const known = new Map(state.configs);
  if (!more) {
    // The open configuration stays open, even when the filter hides its row.
    const open = state.selected && state.configs.get(state.selected);
    state.configs.clear(); state.order = [];
    if (open) state.configs.set(open.id, open);
  }
  // A push that came while the list loaded may be newer than its row.
  const newer = (c) => { const k = known.get(c.id); return k && new Date(k.updatedAt) > new Date(c.updatedAt) ? k : c; };
  for (const c of data.configurations) { if (!state.order.includes(c.id)) state.order.push(c.id); state.configs.set(c.id, newer(c)); }
  state.next = data.nextCursor;
  // The list is the state as of its number: the pushes after it follow.
  if (!more && typeof data.seq === "number") state.seq = data.seq;
  renderList();
  if (state.selected && state.configs.has(state.selected)) on.showSelected();
}

// wireList: search and filter. Rows that stop matching hide at once; the
// server's matches follow.
export function wireList() {
  $("more").addEventListener("click", () => loadList(true));
  // The keyboard walks the rows: arrows one at a time, Home and End to the
  // ends; Enter or Space opens the focused one.
  $("list").addEventListener("keydown", (e) => {
    const moves = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };
    if (!(e.key in moves)) return;
    const shown = [...$("list").querySelectorAll("li:not([hidden]) button.row")];
    if (!shown.length) return;
    e.preventDefault();
    const at = shown.indexOf(document.activeElement), step = moves[e.key];
    const to = step === -Infinity ? 0 : step === Infinity ? shown.length - 1 : Math.min(Math.max(at + step, 0), shown.length - 1);
    shown[to].focus();
    shown[to].scrollIntoView({ block: "nearest" });
  });
  let searching = 0;
  const refilter = () => { renderList(); clearTimeout(searching); searching = setTimeout(() => loadList(), 250); };
  $("search").addEventListener("input", refilter);
  $("status-filter").addEventListener("change", refilter);
}
