// The form: it edits the open configuration (or a new one), keeps the ETag
// it was loaded with, shows the server's field errors beside the fields, and
// merges a change made elsewhere with its edits (merge.js), asking only
// about a field changed on both sides.
import { $ } from "./dom.js";
import { api, configurationPath, errorText, meta } from "./api.js";
import { current, on, state, toast, upsert, upsertNewer } from "./state.js";
import { renderList } from "./list.js";
import { showView, takeReplacing } from "./url.js";
import { schemaForm } from "./schemaform.js";
import { flatten, merge3, show, unflatten } from "./merge.js";

// forms are the forms of the kinds other than Julia's, built from their
// schemas, by kind; boxes their fields' containers.
const forms = {}, boxes = {};

// kindOf is the kind the form edits: the open configuration's, or the one
// chosen for a new one.
export const kindOf = () => $("kind").value || meta.defaultKind;

// showKind shows the fields of the form's kind, and says what it computes.
function showKind() {
  const kind = kindOf();
  $("julia-fields").hidden = kind !== "julia";
  for (const [k, box] of Object.entries(boxes)) box.hidden = k !== kind;
  // Said on hover, not in a line of its own: text arriving with the
  // meta would move the form down under the reader.
  $("kind").title = meta.kinds[kind] ? meta.kinds[kind].description : "";
}

// The form remembers what it was loaded with: its ETag, which every save
// sends (so a change made elsewhere meanwhile is a 412, never overwritten
// unawares), and its values, to tell unsaved edits from none.
export const loaded = { config: null, etag: "", values: "" };

export function fillForm(c) {
  hideConflict();
  setAside = null;
  $("restore").hidden = true;
  $("name").value = c ? c.name : "";
  // A configuration keeps its kind; a new one takes the kind chosen last.
  if (c) $("kind").value = c.kind;
  $("kind").disabled = !!c;
  showKind();
  setParams(c ? c.params : meta.kinds[kindOf()].defaults);
  $("email").value = c ? c.notifyEmail : $("email").value;
  putChannels(c ? c.notify : null);
  $("preset").value = "";
  clearErrors();
  depthHint();
  loaded.config = c;
  loaded.etag = c ? c.etag : "";
  loaded.values = JSON.stringify(formBody());
}

// edited reports whether the form holds edits not saved yet.
export function edited() { return JSON.stringify(formBody()) !== loaded.values; }

// bodyOf is a configuration's fields as the form's body has them.
const bodyOf = (c) => ({ name: c.name, notifyEmail: c.notifyEmail, notify: channels(c.notify), params: c.params });

// The channels a configuration is told on: its own choice, else the
// owner's defaults (state.prefs), else every one.
const CHANNELS = ["page", "device", "email"];
export function channels(own) {
  const out = {};
  for (const k of CHANNELS) out[k] = (own && typeof own[k] === "boolean") ? own[k] : (state.prefs ? state.prefs[k] !== false : true);
  return out;
}

function putChannels(own) {
  const ch = channels(own);
  for (const k of CHANNELS) $("ch-" + k).checked = ch[k];
}

function readChannels() {
  const out = {};
  for (const k of CHANNELS) out[k] = $("ch-" + k).checked;
  return out;
}

// putBody puts a body's fields in the form.
function putBody(body) {
  $("name").value = body.name || "";
  $("email").value = body.notifyEmail || "";
  putChannels(body.notify);
  setParams(body.params);
}

// readAs is what the form's body would be holding body: the form's own
// reading of it (defaults, trimming), as edits are compared.
function readAs(body) {
  const keep = formBody();
  putBody(body);
  const out = formBody();
  putBody(keep);
  return out;
}

// fieldName names a field as the page does.
const fieldName = (f) => (f === "notifyEmail" ? "e-mail" : f.startsWith("notify.") ? "telling you " + ({ page: "on the page", device: "on your devices", email: "by e-mail" }[f.slice(7)] || f.slice(7)) : f.replace(/^params\./, ""));

// theirs is the newer state of the open configuration, saved elsewhere,
// while this form has edits of its own; merging is the merge of the two
// while a field changed on both sides waits for the user; setAside is the
// form's edits as they were when "Load theirs" dropped them.
export let theirs = null;
let merging = null, setAside = null;

// showConflict merges a newer state of the open configuration, saved
// elsewhere, with this form's unsaved edits: a field changed on one side
// only takes that side's value by itself, and the page says which came
// from where; a field changed on both sides to different values asks,
// showing both. The form then edits their version (its ETag), with what
// is the user's still unsaved. resave: the merge came from a refused save,
// which is sent again when nothing needs asking.
export function showConflict(c, { resave = false } = {}) {
  const base = flatten(JSON.parse(loaded.values)), mine = flatten(formBody());
  const their = readAs(bodyOf(c));
  const m = merge3(base, mine, flatten(their));
  theirs = c;
  loaded.config = c;
  loaded.etag = c.etag;
  loaded.values = JSON.stringify(their);
  putBody(unflatten(m.merged));
  setAside = null;
  $("restore").hidden = true;
  const names = (fs) => fs.map(fieldName).join(", ");
  const told = [m.fromTheirs.length && `${names(m.fromTheirs)} came from there`, m.fromMine.length && `your ${names(m.fromMine)} stayed (not saved yet)`]
    .filter(Boolean).join("; ");
  const list = $("conflict-fields");
  list.replaceChildren();
  $("conflict").classList.toggle("merged", !m.conflicts.length);
  if (!m.conflicts.length) {
    merging = null;
    $("conflict-text").textContent = `Saved elsewhere meanwhile, and merged with your edits: ${told || "the same changes as yours"}.`;
    $("conflict-mine").hidden = true; $("conflict-theirs").hidden = true; $("conflict-ok").hidden = false;
    $("conflict").hidden = false;
    if (resave) $("form").requestSubmit();
    return;
  }
  merging = { m, their };
  $("conflict-text").textContent = `Saved elsewhere meanwhile${told ? ` (${told})` : ""}. ` +
    `Changed on both sides: choose which to keep, then save.`;
  for (const x of m.conflicts) {
    const li = document.createElement("li");
    const name = "pick-" + x.field;
    const pick = (side, value, checked) => {
      const l = document.createElement("label");
      const r = Object.assign(document.createElement("input"), { type: "radio", name, value: side, checked });
      r.dataset.field = x.field;
      l.append(r, ` ${side === "mine" ? "yours" : "theirs"}: ${show(value)}`);
      return l;
    };
    li.append(Object.assign(document.createElement("strong"), { textContent: fieldName(x.field) }), pick("mine", x.mine, true), pick("theirs", x.theirs, false));
    list.append(li);
  }
  $("conflict-mine").hidden = false; $("conflict-theirs").hidden = false; $("conflict-ok").hidden = true;
  $("conflict").hidden = false;
}

// keepChoices takes each conflicting field from the side chosen, and saves.
function keepChoices() {
  if (!merging) return;
  const flat = flatten(formBody());
  for (const x of merging.m.conflicts) {
    const r = document.querySelector(`#conflict-fields input[data-field="${x.field}"]:checked`);
    flat[x.field] = r && r.value === "theirs" ? x.theirs : x.mine;
  }
  putBody(unflatten(flat));
  hideConflict();
  $("form").requestSubmit();
}

// loadTheirs shows their version, setting the form's edits aside with a
// way to put them back.
function loadTheirs() {
  if (!theirs) return;
  const keep = merging ? merging.m.merged : flatten(formBody());
  fillForm(theirs);
  setAside = keep;
  $("restore").hidden = false;
}

// putBack puts the edits set aside back over their version, unsaved.
function putBack() {
  if (!setAside) return;
  putBody(unflatten(setAside));
  setAside = null;
  $("restore").hidden = true;
}

export function hideConflict() { theirs = null; merging = null; $("conflict").hidden = true; }

export function syncRanges() {
  $("c-re-range").value = $("c-re").value;
  $("c-im-range").value = $("c-im").value;
  const z = parseFloat($("zoom").value);
  if (z > 0) $("zoom-range").value = Math.log10(z);
  $("depth-range").value = $("depth").value;
  const w = $("width").value, h = $("height").value;
  $("size-preset").value = w === h && meta.sizePresets.map(String).includes(w) ? w : "";
}

function num(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function formBody() {
  if (kindOf() !== "julia") {
    return { name: $("name").value.trim() || undefined, kind: kindOf(), params: forms[kindOf()].get(), notifyEmail: $("email").value.trim(), notify: readChannels() };
  }
  const params = {
    c: { re: num("c-re") ?? NaN, im: num("c-im") ?? 0 },
    center: { re: num("center-re") ?? 0, im: num("center-im") ?? 0 },
    zoom: num("zoom"), width: num("width"), height: num("height"), depth: num("depth"),
    colormap: $("colormap").value,
  };
  for (const k of Object.keys(params)) if (params[k] === undefined) delete params[k];
  return { name: $("name").value.trim() || undefined, params, notifyEmail: $("email").value.trim(), notify: readChannels() };
}

export function clearErrors() {
  document.querySelectorAll(".err").forEach((e) => { e.textContent = ""; });
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
}

const FIELD_INPUTS = {
  "name": ["name"], "params.c": ["c-re", "c-im"], "params.c.re": ["c-re"], "params.c.im": ["c-im"],
  "params.center": ["center-re", "center-im"], "params.zoom": ["zoom"], "params.width": ["width"],
  "params.height": ["height"], "params.depth": ["depth"], "params.colormap": ["colormap"], "notifyEmail": ["email"],
};

// inputsOf are the inputs a field error names, in the form's kind.
const inputsOf = (field) => (kindOf() === "julia" ? FIELD_INPUTS[field] : forms[kindOf()].inputs(field));

// slotOf is where an error of field shows: its own slot, or that of the
// nearest field it is part of (params.dataset.points: params.dataset).
function slotOf(field) {
  const box = kindOf() === "julia" ? $("julia-fields") : boxes[kindOf()];
  for (let f = field.replace(/\[\d+\]/g, ""); f; f = f.includes(".") ? f.slice(0, f.lastIndexOf(".")) : "") {
    const slot = document.querySelector(`.err[data-field="${f}"]`);
    if (slot && (!f.startsWith("params.") || box.contains(slot))) return slot;
  }
  return null;
}

// label names a field as the page does, not by its path in the body.
function label(field) {
  if (kindOf() !== "julia") return field.replace(/^params\./, "") + ":";
  const names = { "params.c.re": "c, re:", "params.c.im": "c, im:", "params.c": "c:", "params.center.re": "centre re:",
    "params.center.im": "centre im:", "params.center": "centre:", "params.zoom": "zoom:", "params.width": "width:",
    "params.height": "height:", "params.depth": "depth:", "params.colormap": "colormap:", notifyEmail: "e-mail:", name: "name:" };
  return names[field] || field + ":";
}

// depthHint says the deepest render the current size allows, from the
// limits /api/meta gives.
function depthHint() {
  const L = meta.limits, w = num("width"), h = num("height");
  const max = w > 0 && h > 0 ? Math.min(L.maxDepth, Math.floor(L.maxWork / (w * h))) : L.maxDepth;
  $("depth-hint").textContent = `${L.minDepth}–${max}` + (w > 0 && h > 0 ? ` at ${w}×${h}` : "");
}

function showErrors(data) {
  clearErrors();
  const fields = (data && data.error && data.error.fields) || [];
  for (const f of fields) {
    const key = FIELD_INPUTS[f.field] ? f.field : f.field.replace(/\.(re|im)$/, "");
    const own = slotOf(key), exact = own && own.dataset.field === key.replace(/\[\d+\]/g, "");
    const slot = own || document.querySelector('.err[data-field="body"]');
    const text = exact && key !== "params.c" && key !== "params.center" ? f.rule : `${label(f.field)} ${f.rule}`;
    slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + text;
    for (const id of inputsOf(f.field) || inputsOf(key) || []) $(id).classList.add("invalid");
    if (f.field === "params.c" || f.field === "params.center" || f.field === "params.zoom") $("view-opts").open ||= f.field !== "params.c";
  }
  if (!fields.length) document.querySelector('.err[data-field="body"]').textContent = errorText(data, "The server refused this");
}

// unreadable marks the number boxes whose text is no number ("abc",
// "1e"): a browser reads them as empty, which would save the default in
// their place without a word. It reports whether there were any.
function unreadable() {
  const box = kindOf() === "julia" ? $("julia-fields") : boxes[kindOf()];
  const bad = [...box.querySelectorAll('input[type="number"]')].filter((i) => i.validity.badInput);
  if (!bad.length) return false;
  clearErrors();
  for (const input of bad) {
    input.classList.add("invalid");
    const field = Object.keys(FIELD_INPUTS).find((f) => FIELD_INPUTS[f].length === 1 && FIELD_INPUTS[f][0] === input.id);
    const slot = (field && slotOf(field)) || input.closest(".schema-cell, .field")?.querySelector(".err") ||
      document.querySelector('.err[data-field="body"]');
    const what = input.closest("label")?.firstChild?.textContent.trim() || input.id;
    slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + `${what}: must be a number`;
  }
  bad[0].focus();
  return true;
}

export async function save(ev) {
  ev.preventDefault();
  if (unreadable()) return;
  const replace = takeReplacing();
  const body = formBody();
  const btn = $("save");
  btn.disabled = true;
  state.saving = true;
  try {
    const open = current();
    const { res, data } = open
      ? await api("PUT", configurationPath(open.id), body, { "If-Match": loaded.etag })
      : await api("POST", "/api/configurations", body);
    if (res.status === 412) { // changed elsewhere: merge these edits with it, and ask what clashes
      const r = await api("GET", configurationPath(open.id));
      if (r.res.ok) { upsert(r.data); renderList(); showConflict(r.data, { resave: true }); }
      return;
    }
    if (!res.ok) {
      showErrors(data);
      if (res.status >= 500 || res.status === 0) toast(errorText(data, "The server could not save this; try again."), "bad");
      return;
    }
    clearErrors();
    upsertNewer(data);
    // A new version is a step the browser's Back and Forward walk, unless
    // it is where they went.
    if (open && data.version !== open.version && !replace) showView(data, { push: true });
    on.select(data.id);
    if (matchMedia("(max-width: 720px)").matches) $("image").closest("section").scrollIntoView({ behavior: "smooth" });
    if (data.status === "done" && (!open || open.paramsHash !== data.paramsHash)) {
      toast(`“${data.name}” was already rendered: shown at once.`, "info", undefined, { key: "reused" });
    }
  } catch (e) {
    toast("Network error: " + e.message, "bad");
  } finally {
    btn.disabled = false;
    state.saving = false;
  }
}

// buildForm fills the form's choices and bounds from meta.
export function buildForm() {
  const option = (value, text) => Object.assign(document.createElement("option"), { value, textContent: text });
  for (const k of meta.kindOrder) $("kind").append(option(k, meta.kinds[k].title));
  $("kind").value = meta.defaultKind;
  $("kind").addEventListener("change", () => { showKind(); setParams(meta.kinds[kindOf()].defaults); clearErrors(); });
  for (const k of meta.kindOrder) {
    if (k === "julia") continue;
    boxes[k] = Object.assign(document.createElement("div"), { hidden: true });
    boxes[k].dataset.kind = k;
    $("kind-fields").append(boxes[k]);
    forms[k] = schemaForm(boxes[k], meta.kinds[k].schema);
  }
  const complex = (z) => (z.re === 0 ? "" : String(z.re)) + (z.re === 0 ? (z.im === 1 ? "i" : `${z.im}i`) : ` ${z.im < 0 ? "−" : "+"} ${Math.abs(z.im)}i`);
  for (const p of meta.presets) $("preset").append(option(`${p.c.re},${p.c.im}`, `${p.name}: ${complex(p.c).replace(/^-/, "−")}`));
  for (const name of meta.colormaps) $("colormap").append(option(name, name));
  for (const n of meta.sizePresets) $("size-preset").append(option(String(n), `${n}²`));
  for (const st of meta.statuses) $("status-filter").append(option(st, st));
  const L = meta.limits;
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


// wireForm: saving, the conflict's two choices, presets, and the sliders
// that follow their boxes.
export function wireForm() {
  $("form").addEventListener("submit", save);
  $("conflict-theirs").addEventListener("click", loadTheirs);
  $("conflict-mine").addEventListener("click", keepChoices);
  $("conflict-ok").addEventListener("click", hideConflict);
  $("restore-mine").addEventListener("click", putBack);
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
}

// setParams puts parameters in the form's fields (a view or an earlier
// version), leaving name and e-mail as they are.
export function setParams(p) {
  if (kindOf() !== "julia") return forms[kindOf()].set(p);
  $("c-re").value = p.c.re; $("c-im").value = p.c.im;
  $("center-re").value = p.center.re; $("center-im").value = p.center.im;
  $("zoom").value = p.zoom;
  $("width").value = p.width; $("height").value = p.height;
  $("depth").value = p.depth;
  $("colormap").value = p.colormap;
  syncRanges();
}
