// The helpers both pages (index.html, ops.html) share; loaded before them.
"use strict";

// $ finds an element by id.
const $ = (id) => document.getElementById(id);

// el makes an element with a class and, if given, its text.
const el = (tag, className, text) => {
  const e = Object.assign(document.createElement(tag), { className });
  if (text !== undefined) e.textContent = text;
  return e;
};
