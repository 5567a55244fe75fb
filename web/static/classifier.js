// The classifier kind on the page: its form (choices and bounds from its
// meta, the JSON Schema /api/meta serves), and its result — the decision
// boundary (the image), the loss and accuracy curves drawn live as epochs
// finish, the final figures and the weights to download.
import { $ } from "./dom.js";
import { meta } from "./api.js";

const FIELDS = {
  "cl-points": ["dataset", "points"], "cl-noise": ["dataset", "noise"], "cl-data-seed": ["dataset", "seed"],
  "cl-lr": ["learningRate"], "cl-batch": ["batchSize"], "cl-l2": ["l2"], "cl-epochs": ["epochs"], "cl-seed": ["seed"],
};

// fieldInputs maps the server's field paths to this form's inputs.
export const fieldInputs = {
  "params.dataset.name": ["cl-dataset"], "params.dataset.points": ["cl-points"], "params.dataset.noise": ["cl-noise"],
  "params.dataset.seed": ["cl-data-seed"], "params.hidden": ["cl-hidden"], "params.activation": ["cl-activation"],
  "params.optimizer": ["cl-optimizer"], "params.learningRate": ["cl-lr"], "params.batchSize": ["cl-batch"],
  "params.l2": ["cl-l2"], "params.epochs": ["cl-epochs"], "params.seed": ["cl-seed"], "params.colormap": ["cl-colormap"],
};

const kindMeta = () => meta.kinds.classifier;

// buildClassifierForm fills the choices and the bounds from the kind's
// schema.
export function buildClassifierForm() {
  if (!kindMeta()) return;
  const props = kindMeta().schema.properties, option = (v) => Object.assign(document.createElement("option"), { value: v, textContent: v });
  for (const [id, enumOf] of [["cl-dataset", props.dataset.properties.name], ["cl-activation", props.activation],
    ["cl-optimizer", props.optimizer], ["cl-colormap", props.colormap]]) {
    $(id).replaceChildren(...enumOf.enum.map(option));
  }
  for (const [id, path] of Object.entries(FIELDS)) {
    const s = path.length === 2 ? props.dataset.properties[path[1]] : props[path[0]];
    if (s.minimum !== undefined) $(id).min = s.minimum;
    if (s.maximum !== undefined) $(id).max = s.maximum;
  }
}

// setClassifierParams puts a classifier's spec in the form.
export function setClassifierParams(p) {
  $("cl-dataset").value = p.dataset.name; $("cl-points").value = p.dataset.points;
  $("cl-noise").value = p.dataset.noise; $("cl-data-seed").value = p.dataset.seed;
  $("cl-hidden").value = p.hidden.join(", ");
  $("cl-activation").value = p.activation; $("cl-optimizer").value = p.optimizer;
  $("cl-lr").value = p.learningRate; $("cl-batch").value = p.batchSize; $("cl-l2").value = p.l2;
  $("cl-epochs").value = p.epochs; $("cl-seed").value = p.seed; $("cl-colormap").value = p.colormap;
}

// classifierParams reads the form: a box left empty takes the default;
// text that is not a number is sent as it is, so the server names the
// field it breaks rather than the page saving a default in its place.
export function classifierParams() {
  const val = (id) => {
    const v = $(id).value.trim();
    if (v === "") return undefined;
    return Number.isFinite(Number(v)) ? Number(v) : v;
  };
  const hidden = $("cl-hidden").value.trim();
  const p = {
    dataset: { name: $("cl-dataset").value, points: val("cl-points"), noise: val("cl-noise"), seed: val("cl-data-seed") },
    hidden: hidden === "" ? undefined : hidden.split(/[\s,×x]+/).filter(Boolean).map((w) => (Number.isFinite(Number(w)) ? Number(w) : w)),
    activation: $("cl-activation").value, optimizer: $("cl-optimizer").value,
    learningRate: val("cl-lr"), batchSize: val("cl-batch"), l2: val("cl-l2"), epochs: val("cl-epochs"), seed: val("cl-seed"),
    colormap: $("cl-colormap").value,
  };
  for (const o of [p, p.dataset]) for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return p;
}

// summary names a classifier's spec in a line.
export function summary(p) {
  return `${p.dataset.name} · ${p.hidden.join("×")} ${p.activation} · ${p.optimizer} · ${p.epochs} epochs`;
}

// showTraining draws c's curves (live while it trains, kept when done),
// its figures and its weights' link; hidden for another kind.
export function showTraining(c) {
  const box = $("training");
  box.hidden = !c || c.kind !== "classifier";
  if (box.hidden) return;
  const live = c.live || {}, curve = live.curve || [];
  drawCurve($("curve"), curve, live.epochs || c.params.epochs);
  const st = c.stats, last = curve[curve.length - 1];
  let text = "";
  if (c.status === "done" && st && st.accuracy !== undefined) {
    text = `accuracy ${(st.accuracy * 100).toFixed(1)}% · loss ${st.loss.toFixed(4)} · ${st.epochs} epochs: ` +
      (st.epochsReused ? `${st.epochsTrained} trained, ${st.epochsReused} from a checkpoint` : `${st.epochsTrained} trained`) + ` · ${st.renderMs} ms`;
  } else if (last) {
    text = `epoch ${last.epoch} of ${live.epochs} · loss ${last.loss.toFixed(4)} · accuracy ${(last.accuracy * 100).toFixed(1)}%`;
  } else if (c.status === "queued" || c.status === "rendering") {
    text = "The curves appear here as epochs finish.";
  }
  $("metrics").textContent = text;
  const w = $("weights"), url = c.artifacts && c.artifacts["weights.json"];
  w.hidden = !url || c.outdated;
  if (url) { w.href = url; w.download = `${c.name}-weights.json`; }
}

// drawCurve draws the loss (log scale, left axis) and the accuracy (0–1,
// right axis) against the epoch.
function drawCurve(canvas, curve, epochs) {
  const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = { l: 44, r: 40, t: 10, b: 22 };
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#141821"; g.fillRect(0, 0, W, H);
  g.strokeStyle = "#2d3446"; g.strokeRect(pad.l, pad.t, W - pad.l - pad.r, H - pad.t - pad.b);
  g.fillStyle = "#9aa3b5"; g.font = "11px system-ui, sans-serif";
  g.fillText("epoch", W / 2 - 14, H - 6);
  g.fillText("0", pad.l - 4, H - 8); g.fillText(String(epochs), W - pad.r - 16, H - 8);
  g.fillText("100%", W - pad.r + 4, pad.t + 8); g.fillText("0%", W - pad.r + 4, H - pad.b);
  if (!curve.length) return;
  const losses = curve.map((s) => Math.log10(Math.max(s.loss, 1e-6)));
  const lo = Math.min(...losses), hi = Math.max(...losses, lo + 0.1);
  g.fillStyle = "#f0a35e";
  g.fillText(`loss ${(10 ** hi).toPrecision(2)}`, 2, pad.t + 8); g.fillText((10 ** lo).toPrecision(2), 2, H - pad.b);
  const x = (e) => pad.l + (e / Math.max(epochs, 1)) * (W - pad.l - pad.r);
  const line = (ys, color) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    curve.forEach((s, i) => { const y = pad.t + (1 - ys[i]) * (H - pad.t - pad.b); if (i) g.lineTo(x(s.epoch), y); else g.moveTo(x(s.epoch), y); });
    g.stroke();
  };
  line(losses.map((l) => (l - lo) / (hi - lo)), "#f0a35e");
  line(curve.map((s) => s.accuracy), "#6fd3a0");
  g.fillStyle = "#6fd3a0"; g.fillText("accuracy", W - pad.r - 60, pad.t + 12);
}
