// Live updates: the WebSocket's pushes (polling while there is none), the
// toasts and notifications of finished renders, and the dev mailbox.
import { $, el } from "./dom.js";
import { api, errorText, link } from "./api.js";
import { on, state, tellReady, toast, upsert } from "./state.js";
import { renderList, loadList } from "./list.js";
import { channels, edited, fillForm, loaded, showConflict } from "./form.js";
import { showView } from "./url.js";

async function pushURL() {
  try {
    const { res, data } = await api("GET", "/api/push-token");
    if (res.ok && data.url) return `${data.url}?token=${encodeURIComponent(data.token)}`;
  } catch (_) { /* fall back to the local endpoint */ }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}/api/live`;
}

// showLink says how the page hears of changes: live (a push connection),
// polling (none to be had), or offline (the server does not answer).
export function showLink() {
  const b = $("live");
  const up = state.ws && state.ws.readyState === WebSocket.OPEN;
  const [text, cls, title] = !link.online && !up ? ["offline · reconnecting", "live down", "The server is not answering; the page tries again by itself, and your edits stay."]
    : up ? ["live", "live on", "Live updates"] : ["polling", "live off", "No push connection: the page asks every few seconds"];
  b.textContent = text; b.className = cls; b.title = title;
}

export async function connect() {
  let ws;
  try { ws = new WebSocket(await pushURL()); } catch (_) {
    showLink();
    setTimeout(connect, Math.min(1000 * 2 ** state.retry++, 15000));
    return;
  }
  state.ws = ws;
  ws.onopen = () => {
    state.retry = 0;
    link.set(true);
    showLink();
    // What happened while no connection was open (before the first, or
    // while away): the updates after the last applied, or the list afresh
    // where the server keeps none.
    if (state.seq !== null) catchUp();
    else if (state.opened) loadList();
    state.opened = true;
  };
  ws.onclose = () => {
    // The server gone or a network change: the next request says which.
    api("GET", "/api/health").then(showLink);
    showLink();
    const delay = Math.min(1000 * 2 ** state.retry++, 15000);
    setTimeout(connect, delay);
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    receive(msg);
  };
}

// receive takes a push. Pushes are numbered (seq): each is applied once, in
// order; a gap in the numbers (a push lost, or two sent out of order) is
// filled by asking for the updates after the last applied.
function receive(msg) {
  if (typeof msg.seq !== "number" || state.seq === null) {
    if (typeof msg.seq === "number") state.seq = msg.seq;
    return apply(msg);
  }
  if (msg.seq <= state.seq) return; // applied already (a catch-up brought it)
  if (msg.seq === state.seq + 1 && !catching) {
    state.seq = msg.seq;
    return apply(msg);
  }
  catchUp();
}

let catching = false, behind = false;

// catchUp applies, in order, the updates after the last applied; where the
// server no longer keeps them all, it loads the list afresh (which says the
// number to go on from). One runs at a time: a push that comes meanwhile
// makes it ask again.
export async function catchUp() {
  if (catching) { behind = true; return; }
  catching = true;
  try {
    do {
      behind = false;
      const { res, data } = await api("GET", `/api/updates?since=${state.seq}`);
      if (res.status === 0) break; // offline: the next connection asks again
      if (!res.ok || data.snapshot) { await loadList(); break; }
      for (const m of data.updates) {
        if (m.seq <= state.seq) continue;
        state.seq = m.seq;
        apply(m);
      }
    } while (behind);
  } finally { catching = false; }
}

// apply shows an update, and tells the page's host of it: an application
// embedding longrun listens for "longrun:update" on the document.
function apply(msg) {
  if (msg.type === "deleted") on.removeConfig(msg.id);
  else if (msg.type === "configuration") applyUpdate(msg.configuration);
  else return;
  document.dispatchEvent(new CustomEvent("longrun:update", { detail: msg }));
}

// poll stands in for pushes while no WebSocket is open (where there is
// none to connect to, as under sam local start-api): the first page of the
// list, every few seconds.
export async function poll() {
  if (document.hidden || (state.ws && state.ws.readyState === WebSocket.OPEN)) return;
  let res, data;
  try { ({ res, data } = await api("GET", "/api/configurations")); } catch (_) { return; }
  if (res.ok) for (const c of data.configurations) applyUpdate(c);
}

// mailAsked holds the configurations whose result was just asked for by
// e-mail: the notifier mails before it pushes, so their next update finds
// the message in the mailbox.
export const mailAsked = new Set();

// applyUpdate takes a newer state of a configuration, from a push or a poll.
export function applyUpdate(c) {
  if (mailAsked.delete(c.id)) loadMail();
  const prev = state.configs.get(c.id);
  if (prev && new Date(prev.updatedAt) > new Date(c.updatedAt)) return; // stale
  if (prev && prev.updatedAt === c.updatedAt && prev.etag === c.etag && prev.progress === c.progress &&
    JSON.stringify(prev.queue) === JSON.stringify(c.queue)) return; // nothing new
  // A push carries no place in the queue: the last one read stands.
  if (!c.queue && prev && prev.queue && c.status === "queued" && prev.version === c.version) c = { ...c, queue: prev.queue };
  upsert(c);
  const finished = (c.status === "done" || c.status === "failed") && prev && (prev.status === "queued" || prev.status === "rendering");
  if (finished) announce(c);
  if (c.id === state.selected) {
    if (c.etag !== loaded.etag && !state.saving && !state.viewing) { // (a save's own change is settled by its answer)
      if (edited()) showConflict(c); // unsaved edits survive: ask
      else fillForm(c); // nothing of the user's to lose
    }
    on.showSelected();
    if (!state.saving && !state.viewing) showView(c); // (a save's new version is a step of its own; a place keeps its URL)
  }
  renderList();
}

// announce tells of a finished render the user is not watching (another
// configuration, or the page hidden): one toast, which grows as more
// finish, never a pile; the open one in sight tells of itself.
function announce(c) {
  const ok = c.status === "done";
  if (!channels(c.notify).page) return; // its owner chose not to be told here
  // (a device notified through its push service hears of it from there)
  if (window.Notification && Notification.permission === "granted" && document.hidden && !state.device) {
    new Notification(ok ? "Render finished" : "Render failed", { body: c.name });
  }
  if (c.notifyEmail) setTimeout(loadMail, 300);
  if (c.id === state.selected && !document.hidden) return;
  if (!ok) return toast(`“${c.name}” failed: ${c.error}`, "bad", () => on.select(c.id));
  tellReady(c);
}


// ---- the dev mailbox ----

export async function loadMail() {
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

// linkify puts text in into, with its http(s) links made clickable; the
// text stays text (no HTML is parsed).
function linkify(into, text) {
  into.replaceChildren();
  let last = 0;
  for (const m of text.matchAll(/https?:\/\/[^\s<>"]+/g)) {
    into.append(text.slice(last, m.index), Object.assign(document.createElement("a"), { href: m[0], textContent: m[0], target: "_blank", rel: "noopener" }));
    last = m.index + m[0].length;
  }
  into.append(text.slice(last));
}

