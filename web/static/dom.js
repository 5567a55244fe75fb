// The helpers both pages (index.html, ops.html) share.

// $ finds an element by id.
export const $ = (id) => document.getElementById(id);

// el makes an element with a class and, if given, its text.
export const el = (tag, className, text) => {
  const e = Object.assign(document.createElement(tag), { className });
  if (text !== undefined) e.textContent = text;
  return e;
};
