// The JSON API: requests, error texts, and GET /api/meta, which the page
// never repeats (each kind's schema, limits, defaults and presets; the
// statuses).

// meta is GET /api/meta's answer once main has loaded it, with the Julia
// set kind's limits, defaults, presets, colormaps and sizes at its top,
// where the Julia form reads them.
export const meta = {};

export async function loadMeta() {
  const { res, data } = await api("GET", "/api/meta");
  if (!res.ok) return false;
  const julia = data.kinds.julia;
  Object.assign(meta, data, {
    limits: { ...julia.limits, ...data.limits }, defaults: julia.defaults, presets: julia.presets,
    colormaps: julia.choices.colormaps, sizePresets: julia.choices.sizes,
  });
  return true;
}

// offline is what a request that reached no server answers.
export const offline = "The server is not answering: your edits are kept here, and the page reconnects by itself.";

// link is whether the server answered the last request; onChange (set by
// live.js) hears when that changes.
export const link = {
  online: true, onChange() {},
  set(up) { if (up !== this.online) { this.online = up; this.onChange(up); } },
};

// api sends a request, its body as JSON, and decodes the JSON answer.
export async function api(method, path, body, headers = {}) {
  const opts = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let res;
  try { res = await fetch(path, opts); } catch (_) {
    link.set(false);
    return { res: { ok: false, status: 0, headers: new Headers() }, data: { error: { code: "offline", message: offline } } };
  }
  link.set(true);
  if (res.status === 204) return { res, data: null };
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  return { res, data };
}

// errorText is the server's message of an error answer, or fallback.
export function errorText(data, fallback) {
  return (data && data.error && data.error.message) || fallback;
}

export const configurationPath = (id) => `/api/configurations/${encodeURIComponent(id)}`;
