// Calling the API: the Bearer token in the Authorization header (never in a URL), a silent
// refresh before the access token runs out and once more when the server says it is no longer
// valid, and every failure as an ApiError carrying the server's own `detail`.

import { ApiError, apiUrl, errorOf, networkError } from './http.js';
import * as session from './session.js';

export { ApiError };

function headersFor(options) {
  const headers = new Headers(options.headers || {});
  const token = session.accessToken();
  if (options.auth !== false && token) headers.set('Authorization', `Bearer ${token}`);
  if (options.json !== undefined) headers.set('content-type', 'application/json');
  return headers;
}

async function send(path, options) {
  const body = options.json !== undefined ? JSON.stringify(options.json) : options.body;
  try {
    return await fetch(apiUrl(path, options.query), {
      method: options.method || (body === undefined ? 'GET' : 'POST'),
      headers: headersFor(options),
      body,
      signal: options.signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (cause) {
    if (cause && cause.name === 'AbortError') throw cause;
    throw networkError(cause);
  }
}

// 401 with this code means the token itself was refused (expired, revoked, the user disabled):
// worth one refresh. The message limits answer 401 too, with their own codes: not retried.
const TOKEN_REFUSED = 'not_authenticated';

/**
 * The response of `path` (relative to the API root), after at most one refresh.
 * options: method, json (a body to send as JSON), body, headers, query, signal, auth (false:
 * no token), raw (true: the Response itself, for streams and downloads).
 */
export async function call(path, options = {}) {
  const because = options.auth !== false && session.endedBecause();
  if (because) throw new ApiError(401, { code: TOKEN_REFUSED, detail: because }); // known: no use asking
  const authed = options.auth !== false && session.current();
  if (authed && session.expiresSoon()) await session.refresh().catch(() => {});
  let response = await send(path, options);
  if (response.status === 401 && authed) {
    const refused = await errorOf(response.clone());
    if (refused.code === TOKEN_REFUSED) {
      try {
        await session.refresh(refused.detail);
      } catch {
        throw refused; // what the server said about the token, not about the refresh
      }
      response = await send(path, options);
    }
  }
  if (!response.ok) throw await errorOf(response);
  if (options.raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : response.text();
}

export const get = (path, query, options = {}) => call(path, { ...options, query });
export const post = (path, json, options = {}) => call(path, { ...options, method: 'POST', json });
export const patch = (path, json, options = {}) => call(path, { ...options, method: 'PATCH', json });
export const put = (path, json, options = {}) => call(path, { ...options, method: 'PUT', json });
export const del = (path, json, options = {}) => call(path, { ...options, method: 'DELETE', json });

/** A file of the API (an export, a chart) as an object URL the page may show or save. */
export async function blobUrl(path, query) {
  const response = await call(path, { query, raw: true });
  return URL.createObjectURL(await response.blob());
}

/** Log in with the password flow (form fields in the body, never in the URL). */
export async function logIn(username, password) {
  const body = new URLSearchParams({ username, password });
  const tokens = await call('token', { method: 'POST', body, auth: false });
  session.keep(tokens);
  return tokens;
}
