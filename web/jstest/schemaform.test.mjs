// How the form built from a kind's schema reads its boxes
// (web/static/schemaform.js), under node --test: what a user typed is sent
// as they meant it, or as text the server refuses by name, never replaced
// by a default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readValue, words } from "../static/schemaform.js";

const integer = { type: "integer" }, number = { type: "number" }, array = { type: "array" }, choice = { type: "string", enum: ["moons", "spirals"] };

test("an empty box sends nothing: the default is the server's", () => {
  assert.equal(readValue(integer, ""), undefined);
  assert.equal(readValue(array, "   "), undefined);
});

test("numbers are read as numbers, spaces around them dropped", () => {
  assert.equal(readValue(integer, " 300 "), 300);
  assert.equal(readValue(number, "0.03"), 0.03);
  assert.equal(readValue(number, "1e-3"), 0.001);
  assert.equal(readValue(number, "-2"), -2);
});

test("text that is no number is sent as text, for the server to refuse by name", () => {
  assert.equal(readValue(integer, "abc"), "abc");
  assert.equal(readValue(number, "1e"), "1e");
  assert.equal(readValue(number, "Infinity"), "Infinity");
});

test("a list reads commas, spaces and × alike; what is no number stays text", () => {
  assert.deepEqual(readValue(array, "16, 16"), [16, 16]);
  assert.deepEqual(readValue(array, "8×8 4"), [8, 8, 4]);
  assert.deepEqual(readValue(array, "8, x"), [8, "x"]);
});

test("a choice is its text", () => {
  assert.equal(readValue(choice, "moons"), "moons");
});

test("a property's name is a label", () => {
  assert.equal(words("learningRate"), "learning rate");
  assert.equal(words("epochs"), "epochs");
});
