// Explore: click zooms in about the point, shift-click out, the wheel zooms
// about the cursor, drag pans, a pinch zooms about its midpoint, keys + −
// and arrows; each gesture saves a new
// view of the open configuration, the old image transformed at once until
// the new one lands. The URL names the configuration and its version; Back
// and Forward walk its versions, each shown as it was (read-only, nothing
// saved), as does the strip of versions (with thumbnails where rendered);
// "Make this the current version" puts one back.
import { $, el } from "./dom.js";
import { api, configurationPath, meta } from "./api.js";
import { current, on, state, toast, upsert } from "./state.js";
import { fillForm, setParams } from "./form.js";
import { parseURL, replaceNextStep, showView } from "./url.js";
import { summary } from "./classifier.js";

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
  const c = current(), img = $("image");
  if (!c || img.hidden || c.kind !== "julia") return; // only a Julia set is a view to explore
  const p = c.params, pt = at(p, img, x, y);
  const zoom = Math.min(Math.max(p.zoom * factor, meta.limits.minZoom), meta.limits.maxZoom);
  const f = zoom / p.zoom;
  const d = (Math.max(p.width, p.height) - 1) * p.zoom;
  const scale = p.width / img.clientWidth; // image pixels per CSS pixel
  let re = pt.re + (p.center.re - pt.re) / f - (2 * dx * scale) / d;
  let im = pt.im + (p.center.im - pt.im) / f + (2 * dy * scale) / d;
  const lim = meta.limits.maxAbs / Math.SQRT2;
  re = Math.min(Math.max(re, -lim), lim); im = Math.min(Math.max(im, -lim), lim);
  img.style.transform = `translate(${x + dx}px, ${y + dy}px) scale(${f}) translate(${-x}px, ${-y}px)`;
  img.classList.add("is-outdated");
  setParams({ ...p, center: { re, im }, zoom });
  $("form").requestSubmit();
}

// explorable says whether the open configuration is a view to explore.
const explorable = () => { const c = current(); return !!c && c.kind === "julia" && !state.viewing; };

export function wireExplore() {
  const img = $("image");
  let drag = null, pinch = null;
  // The fingers on the image: two make a pinch, which zooms about their
  // midpoint by the ratio of their distances.
  const fingers = new Map();
  const spread = () => { const [a, b] = [...fingers.values()]; return Math.hypot(a.x - b.x, a.y - b.y) || 1; };
  img.addEventListener("pointerdown", (e) => {
    if (!explorable()) return;
    fingers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    try { img.setPointerCapture(e.pointerId); } catch (_) { /* a synthetic event */ }
    if (fingers.size === 2) {
      const r = img.getBoundingClientRect(), [a, b] = [...fingers.values()];
      drag = null;
      img.style.transform = "";
      pinch = { d: spread(), x: (a.x + b.x) / 2 - r.left, y: (a.y + b.y) / 2 - r.top, factor: 1 };
      return;
    }
    if (fingers.size === 1 && !pinch) drag = { x: e.clientX, y: e.clientY, ox: e.offsetX, oy: e.offsetY, moved: false };
  });
  img.addEventListener("pointermove", (e) => {
    if (fingers.has(e.pointerId)) fingers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    if (pinch && fingers.size === 2) {
      pinch.factor = spread() / pinch.d;
      img.style.transform = `translate(${pinch.x}px, ${pinch.y}px) scale(${pinch.factor}) translate(${-pinch.x}px, ${-pinch.y}px)`;
      return;
    }
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (drag.moved) { img.classList.add("dragging"); img.style.transform = `translate(${dx}px, ${dy}px)`; }
  });
  const lift = (e) => {
    fingers.delete(e.pointerId);
    if (!pinch) return false;
    if (fingers.size === 0) {
      const p = pinch;
      pinch = null;
      if (Math.abs(p.factor - 1) > 0.05) explore(p.x, p.y, p.factor); else img.style.transform = "";
    }
    return true; // a pinch's fingers pan nothing and click nothing
  };
  img.addEventListener("pointercancel", (e) => { if (!lift(e)) { drag = null; img.style.transform = ""; } });
  img.addEventListener("pointerup", (e) => {
    if (lift(e) || !drag) return;
    const d = drag;
    drag = null;
    img.classList.remove("dragging");
    if (d.moved) explore(d.ox, d.oy, 1, e.clientX - d.x, e.clientY - d.y);
    else explore(d.ox, d.oy, e.shiftKey ? 0.5 : 2);
  });
  let wheel = null;
  img.addEventListener("wheel", (e) => {
    if (!explorable()) return;
    e.preventDefault();
    const w = wheel || { x: e.offsetX, y: e.offsetY, factor: 1 };
    w.factor *= e.deltaY < 0 ? 1.25 : 0.8;
    img.style.transform = `translate(${w.x}px, ${w.y}px) scale(${w.factor}) translate(${-w.x}px, ${-w.y}px)`;
    clearTimeout(w.timer);
    w.timer = setTimeout(() => { wheel = null; explore(w.x, w.y, w.factor); }, 350);
    wheel = w;
  }, { passive: false });
  img.addEventListener("keydown", (e) => {
    if (!explorable()) return;
    const cx = img.clientWidth / 2, cy = img.clientHeight / 2, step = img.clientWidth / 8;
    const moves = { "+": [2, 0, 0], "=": [2, 0, 0], "-": [0.5, 0, 0], ArrowLeft: [1, step, 0], ArrowRight: [1, -step, 0], ArrowUp: [1, 0, step], ArrowDown: [1, 0, -step] };
    const m = moves[e.key];
    if (!m) return;
    e.preventDefault();
    explore(cx, cy, m[0], m[1], m[2]);
  });
  $("reset-view").addEventListener("click", () => {
    const c = current();
    if (!c) return;
    setParams({ ...c.params, center: { re: 0, im: 0 }, zoom: 1 });
    $("form").requestSubmit();
  });
  $("versions").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-version]");
    if (b) goTo(Number(b.dataset.version));
  });
  $("place-current").addEventListener("click", makeCurrent);
  $("place-leave").addEventListener("click", () => { const c = current(); if (c) goTo(c.version); });
  addEventListener("popstate", () => { followURL(); });
}


// ---- Back, Forward, links, and the versions ----

const sameView = (p, v) => p.center.re === v.re && p.center.im === v.im && p.zoom === v.zoom;

// followURL opens what the URL names: Back, Forward, a link. A version
// is a place: an earlier one is shown as it was, read-only, its kept image
// and parameters, with "Make this the current version"; nothing is saved
// by going there. A link naming a view and no version renders that view.
export async function followURL() {
  const { id, version, view } = parseURL();
  if (!id) return on.select(null);
  if (id !== state.selected) {
    if (!state.configs.has(id)) {
      const { res, data } = await api("GET", configurationPath(id));
      if (!res.ok) {
        on.select(null);
        return toast("Not found: that configuration is someone else's, or was deleted.", "bad");
      }
      upsert(data);
    }
    on.select(id);
  }
  const c = current();
  if (!c) return;
  if (version === c.version || (Number.isNaN(version) && (!view || c.kind !== "julia" || sameView(c.params, view)))) return leavePlace(c);
  const earlier = c.history.find((e) => e.version === version);
  if (earlier) return showPlace(c, earlier);
  if (!Number.isNaN(version)) {
    leavePlace(c);
    return toast(`Version ${version} is no longer kept: this is the current one.`, "info");
  }
  if (view && c.kind === "julia") put({ ...c.params, center: { re: view.re, im: view.im }, zoom: view.zoom }, false);
}

// showPlace shows earlier version e of c, read-only.
function showPlace(c, e) {
  state.viewing = e;
  setParams(e.params);
  on.showSelected();
}

// leavePlace goes back to c's current version, if an earlier one was shown.
function leavePlace(c) {
  if (state.viewing) { state.viewing = null; fillForm(c); on.showSelected(); }
  showView(c);
}

// goTo walks to version v of the open configuration: a new step of the
// browser's history, which Back undoes.
function goTo(v) {
  const c = current();
  if (!c) return;
  history.pushState(null, "", `${location.pathname}#${c.id}?v=${v}`);
  followURL();
}

// makeCurrent puts the version shown back as the current one: a new
// version, rendered at once where its image is kept.
function makeCurrent() {
  const e = state.viewing;
  if (!e) return;
  state.viewing = null;
  on.showSelected();
  put(e.params, true);
}

// put saves parameters p as the open configuration's new version, through
// the form (its ETag, its conflict check): a new step of the browser's
// history when push, else in place of the one walked to.
function put(p, push) {
  setParams(p);
  replaceNextStep(!push);
  $("form").requestSubmit();
}

// showVersions draws the strip of c's versions: the current one, then the
// earlier ones, each with its thumbnail where rendered.
export function showVersions(c) {
  const ul = $("versions");
  $("versions-box").hidden = !c || !c.history.length;
  if (!c || !c.history.length) return ul.replaceChildren();
  const items = [{ ...c, params: c.params, latest: true, imageUrl: c.outdated ? "" : c.imageUrl }, ...c.history];
  const shown = state.viewing ? state.viewing.version : c.version;
  ul.replaceChildren(...items.map((v) => {
    const li = document.createElement("li");
    const b = Object.assign(document.createElement("button"), { type: "button", className: "version" });
    const p = v.params, what = c.kind !== "julia" ? `v${v.version} · ${summary(p)}`
      : `v${v.version} · c = ${p.c.re} ${p.c.im < 0 ? "−" : "+"} ${Math.abs(p.c.im)}i · zoom ${p.zoom} · depth ${p.depth} · ${p.colormap}`;
    b.title = what + (v.version === shown ? " (shown now)" : v.latest ? " · the current version" : " · look at it");
    b.dataset.version = v.version;
    if (v.version === shown) { b.disabled = true; b.setAttribute("aria-current", "true"); }
    if (v.imageUrl) {
      const h = c.kind === "julia" ? Math.max(1, Math.round(56 * p.height / p.width)) : 56;
      b.append(Object.assign(document.createElement("img"), { src: v.imageUrl + "&thumb=1", alt: "", width: 56, height: h, loading: "lazy", decoding: "async" }));
    } else b.append(el("span", "no-thumb", "not rendered"));
    b.append(el("span", "version-label", `v${v.version}` + (v.latest ? " · current" : "")));
    li.append(b);
    return li;
  }));
}
