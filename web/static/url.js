// The URL names the open configuration and its view; each new version
// made on the page is a step of the browser's history.

// viewURL is the address of configuration c's view at its version:
// #ID?v=VERSION&re=…&im=…&zoom=… (centre and zoom).
function viewURL(c) {
  if (c.kind !== "julia") return `${location.pathname}#${c.id}?v=${c.version}`;
  const q = new URLSearchParams({ v: c.version, re: c.params.center.re, im: c.params.center.im, zoom: c.params.zoom });
  return `${location.pathname}#${c.id}?${q}`;
}

// parseURL reads what the URL (its hash) names: a configuration and,
// maybe, a version and a view of it.
export function parseURL(hash = location.hash) {
  const [id, query = ""] = decodeURIComponent(hash.slice(1)).split("?");
  const q = new URLSearchParams(query), n = (k) => (q.has(k) && q.get(k) !== "" ? Number(q.get(k)) : NaN);
  const view = { re: n("re"), im: n("im"), zoom: n("zoom") };
  return { id, version: n("v"), view: Object.values(view).every(Number.isFinite) ? view : null };
}

// showView puts configuration c (or none) in the URL: a new entry of the
// browser's history when push (a new version made here), else in place.
export function showView(c, { push = false } = {}) {
  const url = c ? viewURL(c) : location.pathname;
  if (url === location.pathname + location.hash) return;
  if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
}

// replacing says whether the next save's new version replaces the
// history entry walked back or forward to, rather than adding one.
let replacing = false;

// replaceNextStep sets whether the next save replaces the current entry.
export function replaceNextStep(replace) { replacing = replace; }

// takeReplacing tells a save whether its new version replaces the current
// entry, and resets it.
export function takeReplacing() { const r = replacing; replacing = false; return r; }
