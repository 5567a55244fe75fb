// How the page shows a training's result (a kind whose meta says
// result "training", as the classifier's does): the decision boundary is
// the image; beside it the loss and accuracy curves, drawn live as epochs
// finish, the final figures and the weights to download. Its form is the
// one schemaform.js builds from the kind's schema.
import { $ } from "./dom.js";
import { meta } from "./api.js";

// summary names a spec of a kind other than Julia's in a line: a
// classifier's dataset, layers and training, or any kind's values.
export function summary(p) {
  if (p.dataset && p.hidden) return `${p.dataset.name} · ${p.hidden.join("×")} ${p.activation} · ${p.optimizer} · ${p.epochs} epochs`;
  return Object.entries(p).filter(([, v]) => typeof v !== "object").map(([k, v]) => `${k} ${v}`).join(" · ");
}

// showTraining draws c's curves (live while it trains, kept when done),
// its figures and its weights' link; hidden for another kind.
export function showTraining(c) {
  const box = $("training");
  box.hidden = !c || !meta.kinds[c.kind] || meta.kinds[c.kind].result !== "training";
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
