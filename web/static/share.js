// The page of a read-only link (/s/TOKEN): a configuration's result and its
// parameters, with downloads; no session, nothing of the owner. It follows
// a computation still under way until it is done.
import { $ } from "./dom.js";

const token = decodeURIComponent(location.pathname.slice("/s/".length));

// show writes a parameter's value as a person reads it.
function show(v) {
  if (v && typeof v === "object" && "re" in v && "im" in v) return `${v.re} ${v.im < 0 ? "−" : "+"} ${Math.abs(v.im)}i`;
  if (Array.isArray(v)) return v.join(" × ");
  if (v && typeof v === "object") return Object.entries(v).map(([k, x]) => `${k} ${show(x)}`).join(", ");
  return String(v);
}

function link(href, text, download) {
  return Object.assign(document.createElement("a"), { href, textContent: text, className: "button ghost small", download });
}

async function load() {
  let res, c;
  try {
    res = await fetch(`/api/shared/${encodeURIComponent(token)}`);
    c = await res.json();
  } catch (_) {
    $("share-name").textContent = "The server is not answering";
    return setTimeout(load, 5000);
  }
  if (!res.ok) {
    $("share-name").textContent = "This link opens nothing";
    $("share-kind").textContent = (c && c.error && c.error.message) || "It may have been revoked by its owner.";
    return;
  }
  document.title = `longrun · ${c.name}`;
  $("share-name").textContent = c.name;
  const badge = $("share-status");
  badge.hidden = false;
  badge.className = "badge " + c.status;
  badge.textContent = c.status === "rendering" ? `${c.status} ${Math.round(c.progress * 100)}%` : c.status;
  $("share-kind").textContent = c.kind === "julia" ? "A Julia set" : `A ${c.kind}`;
  const img = $("share-image");
  if (c.imageUrl) {
    if (img.getAttribute("src") !== c.imageUrl) img.src = c.imageUrl;
    img.alt = c.kind === "julia" ? `Julia set for c = ${show(c.params.c)}` : `The result of ${c.name}`;
    img.hidden = false;
  }
  $("share-placeholder").hidden = !!c.imageUrl;
  if (c.status === "failed") $("share-placeholder").textContent = "This computation failed: " + (c.error || "no reason given");
  const st = c.stats;
  $("share-stats").textContent = !st ? "" : [st.pixels && `${st.pixels.toLocaleString()} px`, st.iterations && `${st.iterations.toLocaleString()} iterations`,
    st.accuracy !== undefined && `accuracy ${(st.accuracy * 100).toFixed(1)}%`, `${st.renderMs} ms`].filter(Boolean).join(" · ");
  const dl = $("share-downloads");
  dl.replaceChildren();
  if (c.imageUrl) dl.append(link(c.imageUrl, "Download the image (PNG)", `${c.name}.png`));
  for (const [name, url] of Object.entries(c.artifacts || {})) dl.append(link(url, `Download ${name}`, name));
  const dlist = $("share-params");
  dlist.replaceChildren();
  for (const [k, v] of Object.entries(c.params)) {
    dlist.append(Object.assign(document.createElement("dt"), { textContent: k }), Object.assign(document.createElement("dd"), { textContent: show(v) }));
  }
  if (c.status === "queued" || c.status === "rendering" || c.outdated) setTimeout(load, 3000);
}

load();
