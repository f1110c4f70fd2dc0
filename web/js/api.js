// The one API client every page uses: JSON in and out, the bearer token, problem bodies.

const TOKEN_KEY = 'yishi.token';

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY) ?? localStorage.getItem(TOKEN_KEY),
  save(token, remember) {
    (remember ? localStorage : sessionStorage).setItem(TOKEN_KEY, token);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
  },
};

/** A failed call, carrying the RFC 9457 problem the server answered with. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.status = status;
    this.code = problem?.code ?? 'network';
    this.problem = problem;
  }
}

async function request(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  // A form (URLSearchParams) goes form-encoded, with the type fetch gives it; the rest as JSON.
  const form = body instanceof URLSearchParams;
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiProblem(0, { code: 'network', detail: 'network' });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    if (response.status === 401 && token) session.clear();
    throw new ApiProblem(response.status, data);
  }
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}, headers = {}) => request('POST', path, body, headers),
  put: (path, body) => request('PUT', path, body),
  patch: (path, body) => request('PATCH', path, body),
  delete: (path) => request('DELETE', path),
};

/**
 * A wait before trying a socket or a ticket again: drawn in the upper half of `ms`, so that
 * the many clients a server restart or a busy moment turns away do not all return together.
 * @param {number} ms
 */
export function retryDelay(ms) {
  return ms / 2 + Math.random() * (ms / 2);
}
