// The JSON API: requests, error texts, and GET /api/meta, which the page
// never repeats (limits, defaults, colormaps, presets, statuses).

// meta is GET /api/meta's answer once main has loaded it.
export const meta = {};

export async function loadMeta() {
  const { res, data } = await api("GET", "/api/meta");
  if (res.ok) Object.assign(meta, data);
  return res.ok;
}

// api sends a request, its body as JSON, and decodes the JSON answer.
export async function api(method, path, body, headers = {}) {
  const opts = { method, headers: { ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
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
