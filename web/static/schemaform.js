// A form built from a kind's JSON Schema (GET /api/meta), its properties
// in the order its "x-order" lists: an input for
// each property — a choice for an enum, a number box for a number or an
// integer (its bounds from the schema), a text of comma-separated numbers
// for an array — nested objects as fieldsets, and beside each field the
// slot where the server's field error shows. A kind needs no code of its
// own on the page to be configured.

// words turns a property's name into a label: "learningRate" → "learning rate".
export const words = (name) => name.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();

export const inputId = (path) => "p-" + path.join("-");

// schemaForm builds the form of schema into box and returns how to fill it
// (set), read it (get) and find the inputs a field error names (inputs).
export function schemaForm(box, schema) {
  const leaves = []; // [path, property schema, input]
  const build = (parent, s, path) => {
    const newGrid = () => parent.appendChild(Object.assign(document.createElement("div"), { className: "schema-grid" }));
    let grid = newGrid();
    // A schema's "x-order" lists its properties in the order a form shows
    // them (JSON objects have none); the rest follow.
    const names = Object.keys(s.properties || {});
    const order = (s["x-order"] || []).filter((n) => names.includes(n));
    for (const name of [...order, ...names.filter((n) => !order.includes(n))]) {
      const p = s.properties[name];
      const at = [...path, name];
      if (p.type === "object") {
        const fs = document.createElement("fieldset");
        fs.className = "field";
        fs.append(Object.assign(document.createElement("legend"), { textContent: words(name) }));
        build(fs, p, at);
        parent.append(fs);
        grid = newGrid(); // the fields after it, below it
        continue;
      }
      let input;
      if (p.enum) {
        input = document.createElement("select");
        for (const v of p.enum) input.append(Object.assign(document.createElement("option"), { value: v, textContent: v }));
      } else if (p.type === "array") {
        input = Object.assign(document.createElement("input"), { autocomplete: "off", placeholder: (p.default || []).join(", ") });
      } else {
        input = Object.assign(document.createElement("input"), { type: "number", step: p.type === "integer" ? "1" : "any" });
        if (p.minimum !== undefined) input.min = p.minimum;
        if (p.maximum !== undefined) input.max = p.maximum;
      }
      input.id = inputId(at);
      const label = Object.assign(document.createElement("label"), { className: "schema-field" });
      label.append(words(name) + (p.type === "array" ? " (comma-separated)" : "") + " ", input);
      const field = document.createElement("div");
      field.className = "schema-cell";
      field.append(label);
      if (p.description) field.append(Object.assign(document.createElement("small"), { className: "muted", textContent: p.description }));
      field.append(Object.assign(document.createElement("small"), { className: "err" }));
      field.lastChild.dataset.field = "params." + at.join(".");
      grid.append(field);
      leaves.push([at, p, input]);
    }
  };
  build(box, schema, []);

  const get = () => {
    const out = {};
    for (const [path, p, input] of leaves) {
      const v = readValue(p, input.value);
      if (v === undefined) continue;
      let o = out;
      for (const k of path.slice(0, -1)) o = o[k] ||= {};
      o[path[path.length - 1]] = v;
    }
    return out;
  };
  const set = (params) => {
    for (const [path, p, input] of leaves) {
      const v = path.reduce((o, k) => (o == null ? undefined : o[k]), params);
      input.value = v === undefined ? "" : p.type === "array" ? v.join(", ") : v;
    }
  };
  // inputs names the input of a field path ("params.hidden[1]": hidden's).
  const inputs = (field) => {
    const path = field.replace(/^params\./, "").replace(/\[\d+\]/g, "").split(".");
    for (let n = path.length; n > 0; n--) { // "hidden.1": hidden's
      const el = document.getElementById(inputId(path.slice(0, n)));
      if (el && box.contains(el)) return [el.id];
    }
    return [];
  };
  return { get, set, inputs };
}

// readValue is what a box's text sends: nothing when empty (the default),
// a number when it reads as one, and otherwise the text itself, so the
// server names the field it breaks rather than the page saving a default
// in its place.
export function readValue(p, text) {
  const v = text.trim();
  if (v === "") return undefined;
  if (p.enum) return v;
  const num = (s) => (Number.isFinite(Number(s)) ? Number(s) : s);
  if (p.type === "array") return v.split(/[\s,×]+/).filter(Boolean).map(num);
  return p.type === "string" ? v : num(v);
}
