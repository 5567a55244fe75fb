// longrun's page: plain JavaScript over the JSON API and the live WebSocket.
"use strict";

// $ and el come from dom.js.
const state = { configs: new Map(), order: [], selected: null, next: "", ws: null, retry: 0 };
// META is GET /api/meta: limits, defaults, colormaps and presets, which
// the page never repeats.
let META = null;

async function api(method, path, body, headers = {}) {
  const opts = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 204) return { res, data: null };
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  return { res, data };
}

// ---- list ----

// upsertNewer keeps c unless a newer state of it arrived first (a push can
// beat the answer to the request that caused it).
function upsertNewer(c) {
  const prev = state.configs.get(c.id);
  if (prev && new Date(prev.updatedAt) > new Date(c.updatedAt)) return;
  upsert(c);
}

function upsert(c) {
  if (!state.configs.has(c.id)) {
    state.order.unshift(c.id);
    state.order.sort((a, b) => {
      const ca = state.configs.get(a) || c, cb = state.configs.get(b) || c;
      return (cb.createdAt || "").localeCompare(ca.createdAt || "");
    });
  }
  state.configs.set(c.id, c);
}

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
  r.btn.addEventListener("click", () => select(id));
  rows.set(id, r);
  return r;
}

function updateRow(r, c) {
  r.li.className = c.id === state.selected ? "selected" : "";
  r.btn.setAttribute("aria-current", c.id === state.selected ? "true" : "false");
  if (c.imageUrl && r.thumb.getAttribute("src") !== c.imageUrl) r.thumb.src = c.imageUrl;
  r.thumb.hidden = !c.imageUrl;
  r.thumb.classList.toggle("stale", !!c.outdated);
  r.name.textContent = c.name;
  r.btn.title = c.name; // the whole name, on hover and focus
  r.badge.className = "badge " + c.status;
  r.badge.textContent = c.status === "rendering" ? `rendering ${Math.round(c.progress * 100)}%` : c.status;
  r.size.textContent = `${c.params.width}×${c.params.height}`;
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

function renderList() {
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
async function loadList(more = false) {
  const q = new URLSearchParams();
  const name = $("search").value.trim(), only = $("status-filter").value;
  if (name) q.set("q", name);
  if (only) q.set("status", only);
  if (more && state.next) q.set("cursor", state.next);
  const query = q.toString();
  const { res, data } = await api("GET", "/api/configurations" + (query ? "?" + query : ""));
  if (!res.ok) return toast(errorText(data, "Could not load your configurations"), "bad");
  if (!more) {
    // The open configuration stays open, even when the filter hides its row.
    const open = state.selected && state.configs.get(state.selected);
    state.configs.clear(); state.order = [];
    if (open) state.configs.set(open.id, open);
  }
  for (const c of data.configurations) { if (!state.order.includes(c.id)) state.order.push(c.id); state.configs.set(c.id, c); }
  state.next = data.nextCursor;
  renderList();
  if (state.selected && state.configs.has(state.selected)) showSelected(true);
}

// ---- form ----

// The form remembers what it was loaded with: its ETag, which every save
// sends (so a change made elsewhere meanwhile is a 412, never overwritten
// unawares), and its values, to tell unsaved edits from none.
const loaded = { config: null, etag: "", values: "" };

function fillForm(c) {
  hideConflict();
  const p = c ? c.params : META.defaults;
  $("name").value = c ? c.name : "";
  $("c-re").value = p.c.re; $("c-im").value = p.c.im;
  $("center-re").value = p.center.re; $("center-im").value = p.center.im;
  $("zoom").value = p.zoom;
  $("width").value = p.width; $("height").value = p.height;
  $("depth").value = p.depth;
  $("colormap").value = p.colormap;
  $("email").value = c ? c.notifyEmail : $("email").value;
  $("preset").value = "";
  syncRanges();
  clearErrors();
  if (META) depthHint();
  loaded.config = c;
  loaded.etag = c ? c.etag : "";
  loaded.values = JSON.stringify(formBody());
}

// edited reports whether the form holds edits not saved yet.
function edited() { return JSON.stringify(formBody()) !== loaded.values; }

// changes names what differs between the configuration the form was loaded
// with and another state of it.
function changes(a, b) {
  const out = [];
  if (!a || !b) return out;
  if (a.name !== b.name) out.push("name");
  if (a.notifyEmail !== b.notifyEmail) out.push("e-mail");
  for (const k of Object.keys(b.params)) {
    if (JSON.stringify(a.params[k]) !== JSON.stringify(b.params[k])) out.push(k === "c" ? "c" : k);
  }
  return out;
}

// theirs is the newer state of the open configuration, saved elsewhere,
// while this form has edits of its own.
let theirs = null;

function showConflict(c) {
  theirs = c;
  const what = changes(loaded.config, c);
  $("conflict-text").textContent = "Changed elsewhere" + (what.length ? ` (${what.join(", ")})` : "") +
    " since you opened it. Load their version, or keep yours and overwrite theirs?";
  $("conflict").hidden = false;
}

function hideConflict() { theirs = null; $("conflict").hidden = true; }

function syncRanges() {
  $("c-re-range").value = $("c-re").value;
  $("c-im-range").value = $("c-im").value;
  const z = parseFloat($("zoom").value);
  if (z > 0) $("zoom-range").value = Math.log10(z);
  $("depth-range").value = $("depth").value;
  const w = $("width").value, h = $("height").value;
  $("size-preset").value = w === h && META.sizePresets.map(String).includes(w) ? w : "";
}

function num(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function formBody() {
  const params = {
    c: { re: num("c-re") ?? NaN, im: num("c-im") ?? 0 },
    center: { re: num("center-re") ?? 0, im: num("center-im") ?? 0 },
    zoom: num("zoom"), width: num("width"), height: num("height"), depth: num("depth"),
    colormap: $("colormap").value,
  };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  return { name: $("name").value.trim() || undefined, params, notifyEmail: $("email").value.trim() };
}

function clearErrors() {
  document.querySelectorAll(".err").forEach((e) => { e.textContent = ""; });
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
}

const FIELD_INPUTS = {
  "name": ["name"], "params.c": ["c-re", "c-im"], "params.c.re": ["c-re"], "params.c.im": ["c-im"],
  "params.center": ["center-re", "center-im"], "params.zoom": ["zoom"], "params.width": ["width"],
  "params.height": ["height"], "params.depth": ["depth"], "params.colormap": ["colormap"], "notifyEmail": ["email"],
};

// label names a field as the page does, not by its path in the body.
function label(field) {
  const names = { "params.c.re": "c, re:", "params.c.im": "c, im:", "params.c": "c:", "params.center.re": "centre re:",
    "params.center.im": "centre im:", "params.center": "centre:", "params.zoom": "zoom:", "params.width": "width:",
    "params.height": "height:", "params.depth": "depth:", "params.colormap": "colormap:", notifyEmail: "e-mail:", name: "name:" };
  return names[field] || field + ":";
}

// depthHint says the deepest render the current size allows, from the
// limits /api/meta gives.
function depthHint() {
  const L = META.limits, w = num("width"), h = num("height");
  const max = w > 0 && h > 0 ? Math.min(L.maxDepth, Math.floor(L.maxWork / (w * h))) : L.maxDepth;
  $("depth-hint").textContent = `${L.minDepth}–${max}` + (w > 0 && h > 0 ? ` at ${w}×${h}` : "");
}

function showErrors(data) {
  clearErrors();
  const fields = (data && data.error && data.error.fields) || [];
  for (const f of fields) {
    const key = FIELD_INPUTS[f.field] ? f.field : f.field.replace(/\.(re|im)$/, "");
    const own = document.querySelector(`.err[data-field="${key}"]`);
    const slot = own || document.querySelector('.err[data-field="body"]');
    const text = own && key !== "params.c" && key !== "params.center" ? f.rule : `${label(f.field)} ${f.rule}`;
    slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + text;
    for (const id of FIELD_INPUTS[f.field] || FIELD_INPUTS[key] || []) $(id).classList.add("invalid");
    if (f.field === "params.c" || f.field === "params.center" || f.field === "params.zoom") $("view-opts").open ||= f.field !== "params.c";
  }
  if (!fields.length) document.querySelector('.err[data-field="body"]').textContent = errorText(data, "The server refused this");
}

function errorText(data, fallback) {
  return (data && data.error && data.error.message) || fallback;
}

async function save(ev) {
  ev.preventDefault();
  const body = formBody();
  const btn = $("save");
  btn.disabled = true;
  state.saving = true;
  try {
    const current = state.selected && state.configs.get(state.selected);
    const { res, data } = current
      ? await api("PUT", `/api/configurations/${current.id}`, body, { "If-Match": loaded.etag })
      : await api("POST", "/api/configurations", body);
    if (res.status === 412) { // changed elsewhere: keep these edits, and ask
      const r = await api("GET", `/api/configurations/${current.id}`);
      if (r.res.ok) { upsert(r.data); renderList(); showConflict(r.data); }
      return;
    }
    if (!res.ok) {
      showErrors(data);
      if (res.status >= 500) toast(errorText(data, "The server could not save this; try again."), "bad");
      return;
    }
    clearErrors();
    upsertNewer(data);
    select(data.id, true);
    if (matchMedia("(max-width: 720px)").matches) $("image").closest("section").scrollIntoView({ behavior: "smooth" });
    if (data.status === "done" && (!current || current.paramsHash !== data.paramsHash)) {
      toast(`“${data.name}” was already rendered: shown at once.`, "info");
    }
  } catch (e) {
    toast("Network error: " + e.message, "bad");
  } finally {
    btn.disabled = false;
    state.saving = false;
  }
}

// ---- selection and preview ----

function select(id, keepForm = false) {
  state.selected = id;
  if (id) history.replaceState(null, "", "#" + id); else history.replaceState(null, "", location.pathname);
  const c = id && state.configs.get(id);
  if (!keepForm || !c) fillForm(c || null);
  else fillForm(c);
  showSelected();
  renderList();
}

function showSelected() {
  const c = state.selected && state.configs.get(state.selected);
  $("form-title").textContent = c ? "Edit configuration" : "New configuration";
  $("save").textContent = c ? "Save changes" : "Save and render";
  $("delete").hidden = !c;
  $("retry").hidden = !(c && (c.status === "failed" || c.status === "cancelled"));
  $("cancel").hidden = !(c && (c.status === "queued" || c.status === "rendering"));
  // An address added after the render finished gets the result on request.
  $("send-result").hidden = !(c && (c.status === "done" || c.status === "failed") && c.notifyEmail &&
    (c.notifyEmailStatus === "confirmed" || c.notifyEmailStatus === "pending"));
  const badge = $("status");
  badge.hidden = !c;
  if (c) { badge.className = "badge " + c.status; badge.textContent = c.status; }

  const prog = $("progress");
  const active = c && (c.status === "queued" || c.status === "rendering");
  prog.hidden = !active;
  if (active) {
    const pct = Math.round((c.status === "rendering" ? c.progress : 0) * 100);
    prog.querySelector(".bar").style.width = pct + "%";
    prog.querySelector(".label").textContent = c.status === "queued" ? "Queued: waiting for a render worker…" : `Rendering… ${pct}%`;
    prog.setAttribute("aria-valuenow", pct);
  }
  const img = $("image");
  if (c && c.imageUrl) {
    if (img.getAttribute("src") !== c.imageUrl) {
      // Its size is known before it loads: nothing below it moves.
      Object.assign(img, { width: c.params.width, height: c.params.height });
      img.src = c.imageUrl;
      img.style.transform = ""; // the new view has landed
    }
    img.alt = `Julia set for c = ${c.params.c.re} + ${c.params.c.im}i`;
    img.hidden = false;
    img.classList.toggle("is-outdated", c.outdated);
  } else {
    img.hidden = true;
    img.removeAttribute("src");
  }
  $("outdated").hidden = !(c && c.outdated);
  $("reset-view").hidden = !(c && (c.params.zoom !== 1 || c.params.center.re !== 0 || c.params.center.im !== 0));
  $("placeholder").hidden = !!(c && c.imageUrl);
  $("placeholder").textContent = c ? "No image yet: it appears here when rendered." : "Save a configuration to render it.";
  const failure = $("failure");
  failure.hidden = !(c && (c.status === "failed" || c.status === "cancelled"));
  if (c && c.status === "failed") failure.textContent = "Render failed: " + (c.error || "unknown reason");
  if (c && c.status === "cancelled") failure.textContent = "Render cancelled. Retry it when you want the image.";
  const emailStatus = $("email-status");
  const said = {
    pending: "Confirmation pending: follow the link in the e-mail just sent to this address; until then it gets nothing else.",
    unsubscribed: "This address unsubscribed: it gets no e-mails.",
    suppressed: "This address bounced or complained: it gets no e-mails.",
  }[c && c.notifyEmailStatus];
  emailStatus.hidden = !said && !(c && c.notifyError);
  emailStatus.textContent = (c && c.notifyError) || said || "";
  const st = c && c.stats;
  $("stats").textContent = st ? `${st.pixels.toLocaleString()} px · ${st.iterations.toLocaleString()} iterations · ${st.renderMs} ms` : "";
}

// act posts an action (render, cancel) on the selected configuration.
async function act(action, failure) {
  const c = state.configs.get(state.selected);
  if (!c) return;
  const { res, data } = await api("POST", `/api/configurations/${c.id}/${action}`);
  if (!res.ok) return toast(errorText(data, failure), "bad");
  upsertNewer(data); showSelected(); renderList();
}

// sendResult asks for the selected configuration's result by e-mail.
async function sendResult() {
  const c = state.configs.get(state.selected);
  if (!c) return;
  const { res, data } = await api("POST", `/api/configurations/${c.id}/email`);
  if (!res.ok) return toast(errorText(data, "Could not send the e-mail"), "bad");
  upsertNewer(data); showSelected();
  toast(`The result is on its way to ${c.notifyEmail}.`);
  mailAsked.add(c.id);
}

async function del() {
  const c = state.configs.get(state.selected);
  if (!c || !confirm(`Delete “${c.name}”?`)) return;
  const { res, data } = await api("DELETE", `/api/configurations/${c.id}`);
  if (!res.ok && res.status !== 404) return toast(errorText(data, "Could not delete"), "bad");
  removeConfig(c.id);
}

function removeConfig(id) {
  state.configs.delete(id);
  state.order = state.order.filter((x) => x !== id);
  if (state.selected === id) select(null);
  renderList();
}

// ---- live updates ----

async function pushURL() {
  try {
    const { res, data } = await api("GET", "/api/push-token");
    if (res.ok && data.url) return `${data.url}?token=${encodeURIComponent(data.token)}`;
  } catch (_) { /* fall back to the local endpoint */ }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/api/live`;
}

async function connect() {
  let ws;
  try { ws = new WebSocket(await pushURL()); } catch (_) {
    $("live").textContent = "polling"; $("live").className = "live off";
    setTimeout(connect, Math.min(1000 * 2 ** state.retry++, 15000));
    return;
  }
  state.ws = ws;
  ws.onopen = () => {
    state.retry = 0;
    $("live").textContent = "live"; $("live").className = "live on";
    loadList(); // catch up on what happened while disconnected
  };
  ws.onclose = () => {
    $("live").textContent = "polling"; $("live").className = "live off";
    const delay = Math.min(1000 * 2 ** state.retry++, 15000);
    setTimeout(connect, delay);
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    if (msg.type === "deleted") return removeConfig(msg.id);
    if (msg.type === "configuration") applyUpdate(msg.configuration);
  };
}

// poll stands in for pushes while no WebSocket is open (where there is
// none to connect to, as under sam local start-api): the first page of the
// list, every few seconds.
async function poll() {
  if (document.hidden || (state.ws && state.ws.readyState === WebSocket.OPEN)) return;
  let res, data;
  try { ({ res, data } = await api("GET", "/api/configurations")); } catch (_) { return; }
  if (res.ok) for (const c of data.configurations) applyUpdate(c);
}

// mailAsked holds the configurations whose result was just asked for by
// e-mail: the notifier mails before it pushes, so their next update finds
// the message in the mailbox.
const mailAsked = new Set();

// applyUpdate takes a newer state of a configuration, from a push or a poll.
function applyUpdate(c) {
  if (mailAsked.delete(c.id)) loadMail();
  const prev = state.configs.get(c.id);
  if (prev && new Date(prev.updatedAt) > new Date(c.updatedAt)) return; // stale
  if (prev && prev.updatedAt === c.updatedAt && prev.etag === c.etag && prev.progress === c.progress) return; // nothing new
  upsert(c);
  const finished = (c.status === "done" || c.status === "failed") && prev && (prev.status === "queued" || prev.status === "rendering");
  if (finished) announce(c);
  if (c.id === state.selected) {
    if (c.etag !== loaded.etag && !state.saving) { // (a save's own change is settled by its answer)
      if (edited()) showConflict(c); // unsaved edits survive: ask
      else fillForm(c); // nothing of the user's to lose
    }
    showSelected();
  }
  renderList();
}

function announce(c) {
  const ok = c.status === "done";
  toast(ok ? `“${c.name}” is ready.` : `“${c.name}” failed: ${c.error}`, ok ? "" : "bad", () => select(c.id));
  if (window.Notification && Notification.permission === "granted" && document.hidden) {
    new Notification(ok ? "Render finished" : "Render failed", { body: c.name });
  }
  if (c.notifyEmail) setTimeout(loadMail, 300);
}

function toast(text, kind = "", onclick) {
  const t = document.createElement("div");
  t.className = "toast " + kind;
  t.setAttribute("role", "status");
  t.textContent = text;
  if (onclick) { t.style.cursor = "pointer"; t.addEventListener("click", onclick); }
  $("toasts").append(t);
  setTimeout(() => t.remove(), 6000);
}

// ---- mailbox ----

async function loadMail() {
  const { res, data } = await api("GET", "/api/mail");
  const ul = $("mail");
  if (!res.ok) { $("mail-empty").textContent = errorText(data, "No dev mailbox."); return; }
  ul.replaceChildren();
  for (const m of data.messages) {
    const li = document.createElement("li");
    const subject = el("div", "subject", m.subject);
    const meta = el("div", "muted", `to ${m.to} · ${new Date(m.sentAt).toLocaleString()}`);
    const pre = document.createElement("pre");
    linkify(pre, m.text);
    li.append(subject, meta, pre);
    ul.append(li);
  }
  $("mail-empty").hidden = data.messages.length > 0;
}

// ---- explore: point to zoom, drag to pan ----

// at returns the point of the plane that an image offset (in CSS pixels)
// stands for, as the renderer maps pixels: d = (max(w, h) − 1)·zoom.
function at(p, img, x, y) {
  const col = x * p.width / img.clientWidth, row = y * p.height / img.clientHeight;
  const d = (Math.max(p.width, p.height) - 1) * p.zoom;
  return { re: (2 * col - p.width + 1) / d + p.center.re, im: (p.height - 1 - 2 * row) / d + p.center.im };
}

// explore saves a new view of the open configuration: its centre moved
// and its zoom multiplied by factor about the point (x, y) of the image,
// which is transformed at once, marked outdated, until the new one lands.
function explore(x, y, factor, dx = 0, dy = 0) {
  const c = state.selected && state.configs.get(state.selected), img = $("image");
  if (!c || img.hidden) return;
  const p = c.params, pt = at(p, img, x, y);
  const zoom = Math.min(Math.max(p.zoom * factor, META.limits.minZoom), META.limits.maxZoom);
  const f = zoom / p.zoom;
  const d = (Math.max(p.width, p.height) - 1) * p.zoom;
  const scale = p.width / img.clientWidth; // image pixels per CSS pixel
  let re = pt.re + (p.center.re - pt.re) / f - (2 * dx * scale) / d;
  let im = pt.im + (p.center.im - pt.im) / f + (2 * dy * scale) / d;
  const lim = META.limits.maxAbs / Math.SQRT2;
  re = Math.min(Math.max(re, -lim), lim); im = Math.min(Math.max(im, -lim), lim);
  img.style.transform = `translate(${x + dx}px, ${y + dy}px) scale(${f}) translate(${-x}px, ${-y}px)`;
  img.classList.add("is-outdated");
  $("center-re").value = re; $("center-im").value = im; $("zoom").value = zoom;
  syncRanges();
  $("form").requestSubmit();
}

function wireExplore() {
  const img = $("image");
  let drag = null;
  img.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, ox: e.offsetX, oy: e.offsetY, moved: false }; try { img.setPointerCapture(e.pointerId); } catch (_) { /* a synthetic event */ } });
  img.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (drag.moved) { img.classList.add("dragging"); img.style.transform = `translate(${dx}px, ${dy}px)`; }
  });
  img.addEventListener("pointerup", (e) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    img.classList.remove("dragging");
    if (d.moved) explore(d.ox, d.oy, 1, e.clientX - d.x, e.clientY - d.y);
    else explore(d.ox, d.oy, e.shiftKey ? 0.5 : 2);
  });
  let wheel = null;
  img.addEventListener("wheel", (e) => {
    e.preventDefault();
    const w = wheel || { x: e.offsetX, y: e.offsetY, factor: 1 };
    w.factor *= e.deltaY < 0 ? 1.25 : 0.8;
    img.style.transform = `translate(${w.x}px, ${w.y}px) scale(${w.factor}) translate(${-w.x}px, ${-w.y}px)`;
    clearTimeout(w.timer);
    w.timer = setTimeout(() => { wheel = null; explore(w.x, w.y, w.factor); }, 350);
    wheel = w;
  }, { passive: false });
  img.addEventListener("keydown", (e) => {
    const cx = img.clientWidth / 2, cy = img.clientHeight / 2, step = img.clientWidth / 8;
    const moves = { "+": [2, 0, 0], "=": [2, 0, 0], "-": [0.5, 0, 0], ArrowLeft: [1, step, 0], ArrowRight: [1, -step, 0], ArrowUp: [1, 0, step], ArrowDown: [1, 0, -step] };
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    explore(cx, cy, m[0], m[1], m[2]);
  });
  $("reset-view").addEventListener("click", () => {
    $("center-re").value = 0; $("center-im").value = 0; $("zoom").value = 1;
    syncRanges();
    $("form").requestSubmit();
  });
}

// linkify puts text in el with its http(s) links made clickable; the
// text stays text (no HTML is parsed).
function linkify(el, text) {
  el.replaceChildren();
  let last = 0;
  for (const m of text.matchAll(/https?:\/\/[^\s<>"]+/g)) {
    el.append(text.slice(last, m.index), Object.assign(document.createElement("a"), { href: m[0], textContent: m[0], target: "_blank", rel: "noopener" }));
    last = m.index + m[0].length;
  }
  el.append(text.slice(last));
}

// ---- wiring ----

function wire() {
  wireExplore();
  $("form").addEventListener("submit", save);
  $("new").addEventListener("click", () => select(null));
  $("retry").addEventListener("click", () => act("render", "Could not retry"));
  $("conflict-theirs").addEventListener("click", () => { if (theirs) fillForm(theirs); });
  $("conflict-mine").addEventListener("click", () => { // the one way to send the newer ETag
    if (!theirs) return;
    loaded.etag = theirs.etag;
    hideConflict();
    $("form").requestSubmit();
  });
  $("cancel").addEventListener("click", () => act("cancel", "Could not cancel"));
  $("send-result").addEventListener("click", sendResult);
  $("delete").addEventListener("click", del);
  $("more").addEventListener("click", () => loadList(true));
  // Rows that stop matching hide at once; the server's matches follow.
  let searching = 0;
  const refilter = () => { renderList(); clearTimeout(searching); searching = setTimeout(() => loadList(), 250); };
  $("search").addEventListener("input", refilter);
  $("status-filter").addEventListener("change", refilter);
  $("mail-refresh").addEventListener("click", loadMail);
  $("preset").addEventListener("change", (e) => {
    if (!e.target.value) return;
    const [re, im] = e.target.value.split(",");
    $("c-re").value = re; $("c-im").value = im;
    if (!$("name").value) $("name").value = e.target.selectedOptions[0].textContent.split(":")[0];
    syncRanges();
  });
  for (const [range, box, toBox, toRange] of [
    ["c-re-range", "c-re", (v) => v, (v) => v],
    ["c-im-range", "c-im", (v) => v, (v) => v],
    ["depth-range", "depth", (v) => v, (v) => v],
    ["zoom-range", "zoom", (v) => Number((10 ** v).toPrecision(4)), (v) => (v > 0 ? Math.log10(v) : 0)],
  ]) {
    $(range).addEventListener("input", (e) => { $(box).value = toBox(Number(e.target.value)); });
    $(box).addEventListener("input", (e) => { $(range).value = toRange(Number(e.target.value)); });
  }
  for (const id of ["width", "height"]) $(id).addEventListener("input", syncRanges);
  $("size-preset").addEventListener("change", (e) => {
    if (e.target.value) { $("width").value = e.target.value; $("height").value = e.target.value; }
  });
  const perm = $("notify-perm");
  if (window.Notification && Notification.permission === "default") {
    perm.hidden = false;
    perm.addEventListener("click", async () => { await Notification.requestPermission(); perm.hidden = true; });
  }
}

// buildForm fills the form's choices and bounds from META.
function buildForm() {
  const option = (value, text) => Object.assign(document.createElement("option"), { value, textContent: text });
  const complex = (z) => (z.re === 0 ? "" : String(z.re)) + (z.re === 0 ? (z.im === 1 ? "i" : `${z.im}i`) : ` ${z.im < 0 ? "−" : "+"} ${Math.abs(z.im)}i`);
  for (const p of META.presets) $("preset").append(option(`${p.c.re},${p.c.im}`, `${p.name}: ${complex(p.c).replace(/^-/, "−")}`));
  for (const name of META.colormaps) $("colormap").append(option(name, name));
  for (const n of META.sizePresets) $("size-preset").append(option(String(n), `${n}²`));
  for (const st of META.statuses) $("status-filter").append(option(st, st));
  const L = META.limits;
  for (const id of ["width", "height"]) Object.assign($(id), { min: L.minSize, max: L.maxSize });
  Object.assign($("depth"), { min: L.minDepth, max: L.maxDepth });
  $("zoom").min = L.minZoom;
  // No maxLength: a pasted name over the limit is refused with the limit
  // stated, never cut short without a word.
  $("max-abs").textContent = L.maxAbs;
  $("size-hint").textContent = `${L.minSize}–${L.maxSize}`;
  for (const id of ["width", "height"]) $(id).addEventListener("input", depthHint);
  depthHint();
}

async function main() {
  const { res, data } = await api("GET", "/api/meta");
  if (!res.ok) return toast("The server is not answering; reload the page.", "bad");
  META = data;
  buildForm();
  wire();
  fillForm(null);
  await loadList();
  const id = location.hash.slice(1);
  if (id && state.configs.has(id)) select(id);
  else if (id) {
    const { res, data } = await api("GET", `/api/configurations/${encodeURIComponent(id)}`);
    if (res.ok) { upsert(data); select(id); } else {
      select(null);
      toast("Not found: that configuration is someone else's, or was deleted.", "bad");
    }
  }
  loadMail();
  connect();
  setInterval(poll, 4000);
  // An open WebSocket keeps a page out of the back/forward cache: close it
  // when the page is hidden away, open it again when it is shown.
  addEventListener("pagehide", () => { if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; } });
  addEventListener("pageshow", (e) => { if (e.persisted) { loadList(); connect(); } });
}

main();
