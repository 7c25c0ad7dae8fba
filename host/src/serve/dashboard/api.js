// The dashboard's only way to the server: the public HTTP API (docs/api.md), with the
// bearer token the user gave (kept for this tab only).

const KEY = "troupe-token";

export function token() {
  return sessionStorage.getItem(KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

function headers(extra = {}) {
  const h = { ...extra };
  if (token()) h.authorization = `Bearer ${token()}`;
  return h;
}

/** A problem document from the server, or a network failure, as an Error. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function send(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "content-type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  const text = await res.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch { value = null; }
  if (!res.ok) throw new ApiError(res.status, value);
  return value;
}

export const get = (path) => send("GET", path);
export const post = (path, body) => send("POST", path, body);
export const patch = (path, body) => send("PATCH", path, body);

/**
 * Follow a server-sent event stream with the token (EventSource cannot send one):
 * `onEvent(name, data)` per event, until the stream ends or `signal` aborts.
 */
export async function follow(path, onEvent, signal) {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok) throw new ApiError(res.status, null);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let name = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (line === "") {
        if (data.length) {
          try { onEvent(name, JSON.parse(data.join("\n"))); } catch { /* not JSON: skip */ }
        }
        name = "message";
        data = [];
      } else if (line.startsWith("event:")) {
        name = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
    }
  }
}
