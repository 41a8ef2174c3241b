// Where the API is and what its errors look like. The page lives at <root>/ui/, so the API is
// one level up: the console works behind a path prefix too (FastAPI's root_path).

export const API_ROOT = new URL('../', document.baseURI);

export function apiUrl(path, query) {
  const url = new URL(path.replace(/^\//, ''), API_ROOT);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
  }
  return url;
}

/** An error answer of the API: its status, `code` and `detail`, as the server wrote them. */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = typeof body.detail === 'string' && body.detail ? body.detail : `The server answered ${status}.`;
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code || '';
    this.detail = detail;
    this.body = body;
  }
}

export async function errorOf(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  return new ApiError(response.status, body && typeof body === 'object' ? body : {});
}

/** A failure of the network itself (server down, connection cut), worded like an API error. */
export function networkError(cause) {
  const error = new ApiError(0, { code: 'network', detail: 'The server cannot be reached. Check the connection and try again.' });
  error.cause = cause;
  return error;
}
