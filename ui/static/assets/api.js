// Client of the admin API (/v1). Credentials travel only in the HttpOnly
// session cookie the server sets; this code never sees or stores them.
import { randomHex } from './dom.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let onUnauthorized = () => {};

// setUnauthorizedHandler registers what happens when any call gets 401
// (the session expired or was never there).
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// idempotencyKey is a fresh random key per mutating request; the format
// fits the API's [A-Za-z0-9._:-]{1,128}.
export function idempotencyKey() { return `ui-${randomHex(16)}`; }

// api calls METHOD path. body: undefined (none), a string (sent as is, so
// the server validates exactly what the operator typed) or a value to
// encode as JSON. Resolves with the decoded JSON; rejects with ApiError
// carrying the server's {"error":{"message"}} text verbatim.
export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['Idempotency-Key'] = idempotencyKey();
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, body: payload,
      credentials: 'same-origin', cache: 'no-store', redirect: 'error',
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach the host: ${e.message}`);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = undefined; }
  }
  if (!resp.ok) {
    const msg = data && data.error && typeof data.error.message === 'string'
      ? data.error.message
      : `HTTP ${resp.status} ${resp.statusText}`.trim();
    if (resp.status === 401 && !quiet401) onUnauthorized(msg);
    throw new ApiError(resp.status, msg);
  }
  if (data === undefined) throw new ApiError(resp.status, `${method} ${path}: the answer is not JSON`);
  return data;
}

// pages fetches every page of a seq-paged list (events) after since,
// up to max items.
export async function pages(path, key, since, max = 2000, limit = 100) {
  const out = [];
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const data = await api('GET', `${path}${sep}since=${since}&limit=${limit}`);
    const items = (data && data[key]) || [];
    out.push(...items);
    if (items.length < limit || out.length >= max) return out;
    since = items[items.length - 1].seq;
  }
}

export const enc = encodeURIComponent;
