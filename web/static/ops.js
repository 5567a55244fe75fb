// longrun's operations page: the queue, render rates and dead letters of the
// local runner, for the operator only (GET /api/ops needs the operator
// token, LONGRUN_OPS_TOKEN).
import { $ } from "./dom.js";

// The token comes once as /ops.html?token=…, or from the form; it is kept
// for this tab only and sent to the operations routes alone.
function token() {
  const q = new URLSearchParams(location.search);
  if (q.has("token")) {
    sessionStorage.setItem("opsToken", q.get("token"));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("opsToken") || "";
}

async function api(method, path) {
  const res = await fetch(path, { method, headers: { Authorization: `Bearer ${token()}` }, credentials: "same-origin" });
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  return { res, data };
}

function say(text) { $("ops-note").textContent = text; $("ops-note").hidden = !text; }


function fmtAge(sec) {
  if (!sec) return "0 s";
  if (sec < 60) return `${sec.toFixed(1)} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min`;
  return `${(sec / 3600).toFixed(1)} h`;
}

async function loadOps() {
  let res, data;
  try { ({ res, data } = await api("GET", "/api/ops")); } catch (_) { return; }
  if (res.status === 401) { $("ops-panel").hidden = true; $("token-form").hidden = false; say("The operator token is missing or wrong."); return; }
  if (res.status === 404) { $("ops-panel").hidden = true; say("No operations here: the server has no operator token (LONGRUN_OPS_TOKEN), or runs on AWS, where CloudWatch has these numbers."); return; }
  if (!res.ok || !data) return;
  // The token is accepted: its form and the note about it go.
  $("token-form").hidden = true;
  say("");
  $("ops-panel").hidden = false;
  showWork(data.running || [], data.queuedByKind || {});
  const q = data.queue;
  $("ops-depth").textContent = q.visible + q.inFlight;
  $("ops-oldest").textContent = fmtAge(q.oldestAgeSeconds);
  // Over the chart's whole window: the current minute alone reads 0 just
  // after each minute turns.
  $("ops-rpm").textContent = data.rendersPerMinute.reduce((n, m) => n + (m.rendered || 0), 0);
  $("ops-dedup").textContent = `${Math.round(data.dedupRatio * 100)}%`;
  $("ops-failed").textContent = data.totals.failed;
  $("ops-dead").textContent = q.deadLettered;
  $("ops-updated").textContent = new Date().toLocaleTimeString();
  drawChart(data.rendersPerMinute);
  const ul = $("ops-dead-list");
  ul.replaceChildren();
  $("ops-dead-empty").hidden = data.deadLetters.length > 0;
  for (const d of data.deadLetters) {
    const li = document.createElement("li");
    const text = document.createElement("div");
    const name = document.createElement("div");
    name.textContent = `${d.name || d.configurationId} · v${d.version} · ${d.receives} tries`;
    const why = document.createElement("div");
    why.className = "why";
    why.textContent = d.reason || "no reason recorded";
    text.append(name, why);
    const btn = document.createElement("button");
    btn.className = "small";
    btn.textContent = "Retry";
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      const r = await api("POST", `/api/ops/dead-letters/${d.id}/retry`);
      if (!r.res.ok) say((r.data && r.data.error && r.data.error.message) || "Could not retry");
      loadOps();
    });
    li.append(text, btn);
    ul.append(li);
  }
}

// showWork lists what runs, each with its kind, progress and parts in
// flight, and what waits, by kind.
function showWork(running, queued) {
  const ul = $("ops-running");
  ul.replaceChildren();
  for (const r of running) {
    const li = document.createElement("li");
    const what = document.createElement("div");
    what.textContent = `${r.name} · ${r.kind} · v${r.version}`;
    const how = document.createElement("div");
    how.className = "muted";
    const pct = Math.round(r.progress * 100);
    how.textContent = `${r.status} ${pct}%` + (r.tiles ? ` · ${r.tiles.done} of ${r.tiles.total} tiles` : "") +
      ` · ${r.parts} ${r.parts === 1 ? "part" : "parts"} in flight` + (r.startedAt ? ` · since ${new Date(r.startedAt).toLocaleTimeString()}` : "");
    const bar = document.createElement("div");
    bar.className = "mini";
    const fill = document.createElement("span");
    fill.style.width = pct + "%";
    bar.append(fill);
    li.append(what, how, bar);
    ul.append(li);
  }
  $("ops-running-empty").hidden = running.length > 0;
  const kinds = Object.entries(queued).sort((a, b) => b[1] - a[1]);
  $("ops-queued").textContent = kinds.length ? "Waiting: " + kinds.map(([k, n]) => `${n.toLocaleString()} ${k}`).join(" · ") : "Nothing waiting.";
}

function drawChart(series) {
  const svg = $("ops-chart");
  const max = Math.max(1, ...series.map((m) => m.rendered + m.deduplicated + m.failed));
  // The scale: the tallest bar's count at the top, 0 at the foot, the
  // window's ends below.
  $("ops-ymax").textContent = max;
  if (series.length) {
    const at = (m) => new Date(m.minute).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    $("ops-xstart").textContent = at(series[0]);
    $("ops-xend").textContent = at(series[series.length - 1]);
  }
  const w = 300 / series.length, ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  series.forEach((m, i) => {
    let y = 70;
    for (const [key, cls] of [["rendered", "rendered"], ["deduplicated", "dedup"], ["failed", "failed"]]) {
      const h = (m[key] / max) * 66;
      if (h <= 0) continue;
      y -= h;
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", i * w + 1); r.setAttribute("width", w - 2);
      r.setAttribute("y", y); r.setAttribute("height", h);
      r.setAttribute("class", cls);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${new Date(m.minute).toLocaleTimeString()}: ${m[key]} ${key}`;
      r.append(title);
      svg.append(r);
    }
  });
}


// showRun draws a configuration's latest run: each step (the request, each
// job delivery and part, the notifier's sends) as a bar placed in time,
// with its duration and any error.
async function showRun(id) {
  const { res, data } = await api("GET", `/api/ops/runs/${encodeURIComponent(id)}`);
  const ol = $("run-steps");
  ol.replaceChildren();
  if (!res.ok) { $("run-title").textContent = (data && data.error && data.error.message) || `No run (${res.status}).`; return; }
  $("run-title").textContent = `${data.name} · v${data.version} · ${data.summary || "under way"}`;
  const t0 = new Date(data.steps[0].start).getTime();
  const span = Math.max(1, ...data.steps.map((s) => new Date(s.start).getTime() - t0 + s.ms));
  for (const s of data.steps) {
    const at = new Date(s.start).getTime() - t0;
    const li = document.createElement("li");
    if (s.error) li.className = "failed";
    const label = document.createElement("span");
    label.textContent = `+${(at / 1000).toFixed(3)} s  ${s.name}  ${s.ms < 1 ? s.ms.toFixed(2) : Math.round(s.ms)} ms` + (s.error ? ` — ${s.error}` : "");
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.marginLeft = (100 * at / span) + "%";
    bar.style.width = Math.max(0.5, 100 * s.ms / span) + "%";
    li.append(label, bar);
    ol.append(li);
  }
}

async function main() {
  $("run-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const id = $("run-id").value.trim().replace(/^.*#/, "");
    if (id) showRun(id);
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem("opsToken", $("token").value.trim());
    loadOps();
  });
  await loadOps();
  setInterval(() => { if (!document.hidden) loadOps(); }, 3000);
}

main();
