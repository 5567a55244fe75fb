// A three-way merge of a form's fields, with no page around it (node --test
// runs it): what this tab loaded (base), what it holds now (mine) and what
// was saved elsewhere since (theirs), each a flat map of field → value.

// same tells whether two field values are equal, as JSON.
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// merge3 merges field by field: a field changed on one side only takes that
// side's value (fromMine, fromTheirs); changed on both to the same value it
// is that value; changed on both to different values it is a conflict,
// given with both values, and merged holds mine until the user chooses.
export function merge3(base, mine, theirs) {
  const merged = {}, fromMine = [], fromTheirs = [], conflicts = [];
  const fields = [...new Set([...Object.keys(base), ...Object.keys(mine), ...Object.keys(theirs)])];
  for (const f of fields) {
    const b = base[f], m = mine[f], t = theirs[f];
    const minePart = !same(b, m), theirPart = !same(b, t);
    if (minePart && theirPart && !same(m, t)) { conflicts.push({ field: f, mine: m, theirs: t }); merged[f] = m; }
    else if (minePart) { if (!same(m, t)) fromMine.push(f); merged[f] = m; }
    else { if (theirPart) fromTheirs.push(f); merged[f] = t; }
  }
  for (const f of fields) if (merged[f] === undefined) delete merged[f];
  return { merged, fromMine, fromTheirs, conflicts };
}

// flatten makes a form body ({name, notifyEmail, notify: {…}, params: {…}})
// a flat map: name, notifyEmail, each channel as notify.KEY and each
// parameter as params.KEY.
export function flatten(body) {
  const out = { name: body.name ?? "", notifyEmail: body.notifyEmail ?? "" };
  for (const [k, v] of Object.entries(body.notify || {})) out["notify." + k] = v;
  for (const [k, v] of Object.entries(body.params || {})) out["params." + k] = v;
  return out;
}

// unflatten is flatten's inverse.
export function unflatten(flat) {
  const body = { name: flat.name, notifyEmail: flat.notifyEmail, params: {} };
  for (const [k, v] of Object.entries(flat)) {
    if (k.startsWith("params.")) body.params[k.slice(7)] = v;
    else if (k.startsWith("notify.")) (body.notify ??= {})[k.slice(7)] = v;
  }
  return body;
}

// show writes a field's value as a person reads it.
export function show(v) {
  if (v === undefined || v === "") return "(empty)";
  if (v && typeof v === "object" && "re" in v && "im" in v && Object.keys(v).length === 2) {
    return `${v.re} ${v.im < 0 ? "−" : "+"} ${Math.abs(v.im)}i`;
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}
