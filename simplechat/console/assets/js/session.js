// The login: an access token and a refresh token (POST /token), kept in localStorage so that
// a reload or a second tab stays signed in; never put in a URL and never logged.
//
// Refresh tokens rotate and work once: presenting a used one revokes the whole login. Two tabs
// refreshing at the same moment would do exactly that, so refreshing holds a Web Lock shared by
// every tab of this origin, and a tab that gets the lock after another one refreshed adopts the
// new tokens instead of spending the old refresh token again.

import { apiUrl, errorOf, networkError } from './http.js';

const STORE = 'simplechat.session';
const LOCK = 'simplechat.refresh';
const EARLY_MS = 60_000; // refresh this long before the access token runs out
const MIN_DELAY_MS = 5_000;

let session = read();
let ended = null; // why the last login ended here, when the server ended it
let timer = null;
let refreshing = null;
const listeners = new Set();

function read() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE) || 'null');
    return stored && stored.access_token && stored.refresh_token ? stored : null;
  } catch {
    return null;
  }
}

function notify(reason, detail) {
  for (const listener of listeners) listener(session, reason, detail);
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const delay = Math.max(session.expires_at - Date.now() - EARLY_MS, MIN_DELAY_MS);
  timer = setTimeout(() => refresh().catch(() => {}), delay);
}

export function current() {
  return session;
}

export function accessToken() {
  return session ? session.access_token : null;
}

export function expiresSoon() {
  return Boolean(session) && session.expires_at - Date.now() < EARLY_MS;
}

/** Why the server ended this tab's login (the API's own words), or null. */
export function endedBecause() {
  return session ? null : ended;
}

/** Called with (session or null, reason, detail) whenever the login starts, is refreshed or
 * ends; `detail` says why the server ended it. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Keep the tokens of a /token, /token/refresh or /user/me/password answer. */
export function keep(tokens, reason = 'signed-in') {
  ended = null;
  session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
  };
  localStorage.setItem(STORE, JSON.stringify(session));
  schedule();
  notify(reason);
}

/** Forget the login here (and in every tab). `reason` says why, `detail` in the API's words. */
export function forget(reason = 'signed-out', detail = null) {
  session = null;
  ended = reason === 'expired' ? detail : null;
  clearTimeout(timer);
  localStorage.removeItem(STORE);
  notify(reason, detail);
}

async function withLock(work) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request(LOCK, work);
  return work(); // no Web Locks (a plain-http host that is not localhost): one tab at a time
}

async function rotate(stale, because) {
  const stored = read();
  if (!stored) {
    forget('signed-out');
    throw new Error('Signed out.');
  }
  if (stored.access_token !== stale && stored.expires_at - Date.now() > EARLY_MS) {
    session = stored; // another tab refreshed while this one waited for the lock
    schedule();
    return session;
  }
  let response;
  try {
    response = await fetch(apiUrl('token/refresh'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: stored.refresh_token }),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (cause) {
    throw networkError(cause);
  }
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) forget('expired', because || error.detail);
    throw error;
  }
  keep(await response.json(), 'refreshed');
  return session;
}

/** A new access token (one refresh at a time, in this tab and across tabs). `because`: what
 * the server said about the current one, kept as the reason if the login turns out ended. */
export function refresh(because = null) {
  if (!refreshing) {
    const stale = accessToken();
    refreshing = withLock(() => rotate(stale, because)).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/** Log out: revoke this login's refresh token on the server, then forget it here. */
export async function logOut() {
  const stored = read();
  forget('signed-out');
  if (!stored) return;
  try {
    await fetch(apiUrl('token/revoke'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: stored.refresh_token }),
      credentials: 'omit',
    });
  } catch {
    // offline: the refresh token expires by itself; this tab has forgotten it already
  }
}

window.addEventListener('storage', (event) => {
  if (event.key !== STORE) return;
  const before = session;
  session = read();
  schedule();
  if (before && !session) notify('signed-out');
  else if (!before && session) notify('signed-in');
});

schedule();
