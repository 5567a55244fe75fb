// The page's merge of two tabs' edits (web/static/merge.js), under node --test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { flatten, merge3, show, unflatten } from "../static/merge.js";

const base = { name: "shared", notifyEmail: "", "params.depth": 256, "params.colormap": "magma", "params.c": { re: -0.7, im: 0.27 } };

test("a field changed on one side only takes that side's value", () => {
  const mine = { ...base, name: "mine" };
  const theirs = { ...base, "params.colormap": "viridis" };
  const m = merge3(base, mine, theirs);
  assert.deepEqual(m.merged, { ...base, name: "mine", "params.colormap": "viridis" });
  assert.deepEqual(m.fromMine, ["name"]);
  assert.deepEqual(m.fromTheirs, ["params.colormap"]);
  assert.deepEqual(m.conflicts, []);
});

test("a field changed on both sides to different values is a conflict with both values; mine holds meanwhile", () => {
  const m = merge3(base, { ...base, "params.depth": 300 }, { ...base, "params.depth": 500 });
  assert.deepEqual(m.conflicts, [{ field: "params.depth", mine: 300, theirs: 500 }]);
  assert.equal(m.merged["params.depth"], 300);
});

test("the same change on both sides is no conflict and from neither", () => {
  const same = { ...base, "params.c": { re: 0.1, im: 0.2 } };
  const m = merge3(base, same, structuredClone(same));
  assert.deepEqual([m.conflicts, m.fromMine, m.fromTheirs], [[], [], []]);
  assert.deepEqual(m.merged["params.c"], { re: 0.1, im: 0.2 });
});

test("nested values compare whole: a changed im of c is a change of c", () => {
  const m = merge3(base, base, { ...base, "params.c": { re: -0.7, im: 0.3 } });
  assert.deepEqual(m.fromTheirs, ["params.c"]);
});

test("a field only one side has (a parameter added) is kept", () => {
  const m = merge3(base, base, { ...base, "params.zoom": 2 });
  assert.equal(m.merged["params.zoom"], 2);
  const gone = { ...base };
  delete gone["params.depth"];
  assert.equal("params.depth" in merge3(base, base, gone).merged, false);
});

test("flatten and unflatten are inverses over a form's body", () => {
  const body = { name: "x", notifyEmail: "a@example.com", params: { c: { re: 1, im: 2 }, hidden: [8, 8], dataset: { name: "moons" } } };
  assert.deepEqual(unflatten(flatten(body)), body);
  assert.deepEqual(flatten({ params: {} }), { name: "", notifyEmail: "" });
});

test("values are shown as a person reads them", () => {
  assert.equal(show({ re: -0.7, im: -0.3 }), "-0.7 − 0.3i");
  assert.equal(show(""), "(empty)");
  assert.equal(show([8, 8]), "[8,8]");
  assert.equal(show("magma"), "magma");
});

test("the channels merge field by field, and round-trip through flatten", () => {
  const body = { name: "n", notifyEmail: "", notify: { page: true, device: true, email: true }, params: { depth: 256 } };
  const b = flatten(body);
  assert.deepEqual(unflatten(b), body);
  const m = merge3(b, { ...b, "notify.email": false }, { ...b, name: "theirs", "notify.device": false });
  assert.deepEqual(unflatten(m.merged).notify, { page: true, device: false, email: false });
  assert.equal(m.merged.name, "theirs");
});
