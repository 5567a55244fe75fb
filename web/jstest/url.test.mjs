// What the page's URL names (web/static/url.js), under node --test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseURL } from "../static/url.js";

test("a configuration, its version and its view", () => {
  assert.deepEqual(parseURL("#abc?v=3&re=-0.5&im=0.25&zoom=4"), { id: "abc", version: 3, view: { re: -0.5, im: 0.25, zoom: 4 } });
});

test("a configuration alone", () => {
  const u = parseURL("#abc");
  assert.equal(u.id, "abc");
  assert.ok(Number.isNaN(u.version));
  assert.equal(u.view, null);
});

test("a view with a part missing or not a number is no view", () => {
  assert.equal(parseURL("#abc?v=2&re=1&im=2").view, null);
  assert.equal(parseURL("#abc?v=2&re=1&im=x&zoom=2").view, null);
  assert.equal(parseURL("#abc?v=2&re=&im=1&zoom=2").view, null);
});

test("nothing named", () => {
  assert.equal(parseURL("").id, "");
});

test("an encoded hash is read decoded", () => {
  assert.equal(parseURL("#abc%3Fv%3D5").version, 5);
});
