// longrun's page: plain JavaScript modules over the JSON API and the live
// WebSocket. This one opens a configuration (select, showSelected), wires
// the page's buttons and starts it; api.js, state.js, list.js, form.js,
// url.js, explore.js and live.js hold the rest. The others reach select and
// friends through state.js's on, set here, so nothing imports this module.
import { $ } from "./dom.js";
import { api, configurationPath, errorText, link, loadMeta } from "./api.js";
import { current, on, seen, state, toast, upsertNewer } from "./state.js";
import { loadList, renderList, wireList } from "./list.js";
import { buildForm, edited, fillForm, wireForm } from "./form.js";
import { followURL, showVersions, wireExplore } from "./explore.js";
import { showView } from "./url.js";
import { applyUpdate, connect, loadMail, mailAsked, poll, showLink } from "./live.js";
import { showTraining } from "./classifier.js";
import { wireDevice } from "./device.js";

// select opens configuration id (null: a new one) in the form and the
// preview, and names it in the URL.
function select(id) {
  state.selected = id;
  state.viewing = null;
  seen(id);
  const c = current();
  fillForm(c);
  showSelected();
  showView(c);
  renderList();
}

function showSelected() {
  const c = current();
  // An earlier version shown is a place: read-only, its own image.
  const place = c && state.viewing;
  $("place").hidden = !place;
  if (place) {
    $("place-text").textContent = `Version ${place.version} of ${c.version}, as it was: read-only, and nothing is saved by looking.` +
      (place.imageUrl ? "" : " It was never rendered; making it current renders it.");
  }
  for (const e of $("form").elements) {
    if (e.id === "kind") e.disabled = !!c; // a configuration keeps its kind
    else e.disabled = !!place || (e.id === "save" && state.saving);
  }
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
    const doing = c.kind === "julia" ? "Rendering" : "Training";
    prog.querySelector(".label").textContent = c.status === "queued" ? queuedText(c) : `${doing}… ${pct}%` +
      (c.tiles ? ` · ${c.tiles.done} of ${c.tiles.total} tiles` : "") + eta(c);
    prog.setAttribute("aria-valuenow", pct);
  }

  const img = $("image");
  const shownUrl = place ? place.imageUrl : c && c.imageUrl;
  const shownParams = place ? place.params : c && c.params;
  if (c && shownUrl) {
    if (img.getAttribute("src") !== shownUrl) {
      // Its size is known before it loads: nothing below it moves.
      const side = c.stats && c.stats.pixels ? Math.round(Math.sqrt(c.stats.pixels)) : 384;
      Object.assign(img, c.kind === "julia" ? { width: shownParams.width, height: shownParams.height } : { width: side, height: side });
      img.src = shownUrl;
      img.style.transform = ""; // the new view has landed
    }
    img.alt = c.kind === "julia" ? `Julia set for c = ${c.params.c.re} + ${c.params.c.im}i`
      : `Decision boundary of the classifier over the ${c.params.dataset.name} dataset`;
    img.classList.toggle("explorable", c.kind === "julia" && !place);
    img.hidden = false;
    img.classList.toggle("is-outdated", !place && c.outdated);
  } else {
    img.hidden = true;
    img.removeAttribute("src");
  }
  $("outdated").hidden = !(c && c.outdated && !place);
  // Download and share what is shown: the current result, not a place.
  $("share-box").hidden = !(c && c.imageUrl && !place);
  if (c && c.imageUrl) { $("download").href = c.imageUrl; $("download").download = `${c.name}.png`; }
  if (!c || c.id !== shownLinkFor) { $("share-url").hidden = true; $("revoke").hidden = true; }
  $("reset-view").hidden = !(c && c.kind === "julia" && (c.params.zoom !== 1 || c.params.center.re !== 0 || c.params.center.im !== 0));
  $("placeholder").hidden = !!(c && shownUrl);
  $("placeholder").textContent = c ? "No image yet: it appears here when rendered." : "Save a configuration to render it.";
  showMosaic(c && c.status === "rendering" ? c : null);
  const failure = $("failure");
  failure.hidden = !(c && (c.status === "failed" || c.status === "cancelled"));
  if (c && c.status === "failed") failure.textContent = (c.kind === "julia" ? "Render" : "Training") + " failed: " + (c.error || "unknown reason");
  if (c && c.status === "cancelled") failure.textContent = "Render cancelled. Retry it when you want the image.";
  const emailStatus = $("email-status");
  const said = {
    pending: "Confirmation pending: follow the link in the e-mail just sent to this address; until then it gets nothing else.",
    unsubscribed: "This address unsubscribed: it gets no e-mails.",
    suppressed: "This address bounced or complained: it gets no e-mails.",
  }[c && c.notifyEmailStatus];
  emailStatus.hidden = !said && !(c && c.notifyError);
  emailStatus.textContent = (c && c.notifyError) || said || "";
  showVersions(c);
  const st = c && c.stats;
  $("stats").textContent = !st ? "" : c.kind === "julia" ? `${st.pixels.toLocaleString()} px · ${st.iterations.toLocaleString()} iterations · ${st.renderMs} ms`
    : `${st.iterations.toLocaleString()} examples seen · ${st.renderMs} ms`;
  showTraining(c);
  showRun(c);
}

// showRun says how the open version ran, in a line, once it has ended
// ("waited 0.4 s · rendered 1.2 s in 64 parts · mailed 12:04"), where the
// server keeps runs; read again a moment later for the e-mail sent after.
const runs = new Map(); // "id/version" → its line
async function showRun(c) {
  const line = $("run");
  const key = c && `${c.id}/${c.version}`;
  const ended = c && (c.status === "done" || c.status === "failed") && !state.viewing;
  line.textContent = ended && runs.get(key) || "";
  if (!ended || runs.has(key)) return;
  runs.set(key, "");
  const { res, data } = await api("GET", configurationPath(c.id) + "/timeline");
  if (!res.ok) return;
  runs.set(key, data.summary);
  if (current() && `${current().id}/${current().version}` === key) line.textContent = data.summary;
}

// queuedText says where a queued configuration stands: the jobs ahead of
// it under the fair order and when it should start, where the server can
// tell (not on AWS).
function queuedText(c) {
  const q = c.queue;
  if (!q) return "Queued: waiting for a worker…";
  const ahead = q.ahead === 0 ? "Queued: next" : `Queued: ${q.ahead.toLocaleString()} ahead of you`;
  const s = q.startsInSeconds;
  if (s === undefined) return ahead;
  return ahead + (s < 1 ? " · starts in a moment" : s < 90 ? ` · starts in about ${Math.round(s)} s` : ` · starts in about ${Math.round(s / 60)} min`);
}

// eta says how long the render has left, from its pace so far.
function eta(c) {
  if (c.status !== "rendering" || !c.startedAt || !(c.progress > 0.02) || c.progress >= 1) return "";
  const spent = (Date.now() - new Date(c.startedAt)) / 1000, left = spent * (1 - c.progress) / c.progress;
  if (!(left > 1)) return " · almost done";
  return left < 90 ? ` · about ${Math.round(left)} s left` : ` · about ${Math.round(left / 60)} min left`;
}

// previews are the loaded previews of tiled renders, by URL: the view at
// thumbnail size, rendered before its tiles.
const previews = new Map();

// previewOf is c's preview once loaded, else null (and it is asked for:
// the mosaic is drawn again when it lands).
function previewOf(c) {
  const url = `${configurationPath(c.id)}/preview?v=${c.version}`;
  let p = previews.get(url);
  if (!p) {
    p = Object.assign(new Image(), { decoding: "async" });
    p.onload = () => { if (current() && current().id === c.id) showSelected(); };
    p.src = url;
    previews.set(url, p);
  }
  return p.complete && p.naturalWidth > 0 ? p : null;
}

// showMosaic draws a tiled render where its image will be: its preview
// (the view at low resolution, rendered first), each tile still to come
// dimmed, so the picture sharpens into place as tiles finish; without a
// preview, a square per tile.
function showMosaic(c) {
  const canvas = $("mosaic");
  canvas.hidden = !(c && c.tiles);
  if (canvas.hidden) return;
  // The mosaic stands in for the image (an older one, or none) meanwhile.
  $("image").hidden = true;
  $("placeholder").hidden = true;
  const { width: w, height: h } = c.params, size = c.tiles.size;
  const cols = Math.ceil(w / size), rows = Math.ceil(h / size), scale = Math.min(1, 480 / Math.max(w, h));
  Object.assign(canvas, { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) });
  const g = canvas.getContext("2d"), bits = Uint8Array.from(atob(c.tiles.map), (ch) => ch.charCodeAt(0));
  const preview = previewOf(c);
  g.fillStyle = "#1a1f2b"; g.fillRect(0, 0, canvas.width, canvas.height);
  if (preview) {
    g.imageSmoothingQuality = "high";
    g.drawImage(preview, 0, 0, canvas.width, canvas.height);
  }
  for (let i = 0; i < c.tiles.total; i++) {
    const x = (i % cols) * size * scale, y = Math.floor(i / cols) * size * scale, done = bits[i >> 3] & (1 << (i & 7));
    if (preview) {
      if (!done) { g.fillStyle = "rgba(11, 13, 18, 0.6)"; g.fillRect(x, y, size * scale, size * scale); }
      continue;
    }
    g.fillStyle = done ? "#6d4cf0" : "#232838";
    g.fillRect(x + 1, y + 1, Math.max(1, size * scale - 2), Math.max(1, size * scale - 2));
  }
  canvas.setAttribute("aria-label", `${c.tiles.done} of ${c.tiles.total} tiles rendered (${cols} × ${rows})`);
}

// act posts an action (render, cancel) on the selected configuration.
async function act(action, failure) {
  const c = current();
  if (!c) return;
  const { res, data } = await api("POST", `${configurationPath(c.id)}/${action}`);
  if (!res.ok) return toast(errorText(data, failure), "bad");
  upsertNewer(data); showSelected(); renderList();
}

// sendResult asks for the selected configuration's result by e-mail.
async function sendResult() {
  const c = current();
  if (!c) return;
  const { res, data } = await api("POST", `${configurationPath(c.id)}/email`);
  if (!res.ok) return toast(errorText(data, "Could not send the e-mail"), "bad");
  upsertNewer(data); showSelected();
  toast(`The result is on its way to ${c.notifyEmail}.`);
  mailAsked.add(c.id);
}

async function del() {
  const c = current();
  if (!c || !confirm(`Delete “${c.name}”?`)) return;
  const { res, data } = await api("DELETE", configurationPath(c.id));
  if (!res.ok && res.status !== 404) return toast(errorText(data, "Could not delete"), "bad");
  removeConfig(c.id);
}

function removeConfig(id) {
  state.configs.delete(id);
  state.order = state.order.filter((x) => x !== id);
  if (state.selected === id) select(null);
  renderList();
}

// shownLinkFor is the configuration whose read-only link is shown.
let shownLinkFor = null;

// share shows (and copies) the open configuration's read-only link, or,
// revoke, ends its links and shows the new one.
async function share(revoke) {
  const c = current();
  if (!c) return;
  if (revoke && !confirm("End every read-only link to this result made so far, those in e-mails too?")) return;
  const { res, data } = await api(revoke ? "DELETE" : "GET", `${configurationPath(c.id)}/link`);
  if (!res.ok) return toast(errorText(data, "Could not make a link"), "bad");
  const url = new URL(data.url, location.href).href;
  shownLinkFor = c.id;
  Object.assign($("share-url"), { value: url, hidden: false });
  $("revoke").hidden = false;
  $("share-url").select();
  let copied = false;
  try { await navigator.clipboard.writeText(url); copied = true; } catch (_) { /* not allowed here: the link is shown */ }
  toast(revoke ? "The earlier links open nothing now; this is the new one." :
    copied ? "Link copied: it opens this result, read-only, on any device." : "The link is below: it opens this result, read-only, on any device.", "info");
}

// refreshPending reads the open configuration again while its address
// waits for confirmation.
async function refreshPending() {
  const c = current();
  if (!c || c.notifyEmailStatus !== "pending") return;
  const { res, data } = await api("GET", configurationPath(c.id));
  if (res.ok) { upsertNewer(data); showSelected(); renderList(); }
}

// ---- wiring ----

function wire() {
  wireExplore();
  wireForm();
  wireList();
  $("new").addEventListener("click", () => select(null));
  $("retry").addEventListener("click", () => act("render", "Could not retry"));
  $("cancel").addEventListener("click", () => act("cancel", "Could not cancel"));
  $("send-result").addEventListener("click", sendResult);
  $("delete").addEventListener("click", del);
  $("mail-refresh").addEventListener("click", loadMail);
  $("share").addEventListener("click", () => share(false));
  $("revoke").addEventListener("click", () => share(true));
  $("ch-default").addEventListener("click", saveDefaults);
  // An address confirmed in another tab (its page says so on a broadcast
  // channel) or elsewhere (seen when this tab is looked at again): the
  // open configuration's "Confirmation pending" goes.
  if (window.BroadcastChannel) {
    new BroadcastChannel("longrun").onmessage = (e) => { if (e.data && e.data.type === "address-confirmed") refreshPending(); };
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshPending(); });
  wireDevice();
}

// loadPrefs reads the owner's default channels; a new configuration's
// form starts from them.
async function loadPrefs() {
  const { res, data } = await api("GET", "/api/preferences");
  if (!res.ok) return;
  state.prefs = data.notify;
  if (!state.selected && !edited()) fillForm(null);
}

// saveDefaults makes the form's channels the owner's defaults.
async function saveDefaults() {
  const notify = {};
  for (const k of ["page", "device", "email"]) notify[k] = $("ch-" + k).checked;
  const { res, data } = await api("PUT", "/api/preferences", { notify });
  if (!res.ok) return toast(errorText(data, "Could not keep your defaults"), "bad");
  state.prefs = data.notify;
  const said = Object.entries(data.notify).filter(([, v]) => v).map(([k]) => ({ page: "on the page", device: "on your devices", email: "by e-mail" })[k]);
  toast(said.length ? `By default you are told ${said.join(", ")}.` : "By default you are told nowhere: the list still shows every result.");
}

async function main() {
  Object.assign(on, { select, showSelected, removeConfig });
  link.onChange = showLink;
  if (!(await loadMeta())) return toast("The server is not answering; reload the page.", "bad");
  buildForm();
  wire();
  fillForm(null);
  // The list loads once (a new visitor's request for it makes the session
  // the push connection then carries); the connection's first open does
  // not load it again, a reconnect does (live.js).
  await loadList();
  await loadPrefs();
  connect();
  await followURL();
  loadMail();
  setInterval(poll, 4000);
  // A queued configuration's place changes with every job handed out, not
  // with its own changes, which are what is pushed: while the page is seen,
  // the open one, if queued, is read again every 3 s, and the list's first
  // page too while one of its rows is queued (one request each, at most).
  setInterval(async () => {
    if (document.hidden) return;
    const c = current();
    if (c && c.status === "queued") {
      const { res, data } = await api("GET", configurationPath(c.id));
      if (res.ok) applyUpdate(data); // as a push: the list, the toast, the form
    }
    const others = state.order.some((id) => id !== state.selected && state.configs.get(id)?.status === "queued");
    if (others && !$("search").value.trim() && !$("status-filter").value) {
      const { res, data } = await api("GET", "/api/configurations");
      if (res.ok) for (const x of data.configurations) applyUpdate(x);
    }
  }, 3000);
  // An open WebSocket keeps a page out of the back/forward cache: close it
  // when the page is hidden away, open it again when it is shown.
  addEventListener("pagehide", () => { if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; } });
  addEventListener("pageshow", (e) => { if (e.persisted) connect(); }); // its open reloads the list
}

main();
