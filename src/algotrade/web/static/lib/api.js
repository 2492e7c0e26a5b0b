// REST calls to the daemon (ctx.api). Same origin, session cookie: the page never holds the
// API key after sign-in, so nothing readable by a script can leak it.

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds, from Retry-After on 429
  }
}

/**
 * makeApi(onUnauthorized) → api(path, {method, body, signal}) → Promise<json|null>.
 * onUnauthorized runs on a 401 from any route but the session one (the session expired or
 * was revoked): the app then shows the sign-in page.
 */
export function makeApi(onUnauthorized) {
  return async function api(path, { method = "GET", body, signal } = {}) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" }, signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(0, "unreachable", "the daemon cannot be reached");
    }
    if (response.status === 204) return null;
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (response.ok) return data;
    const error = (data && data.error) || {};
    const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    const apiError = new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || `${response.status} ${response.statusText}`,
      Number.isFinite(retry) ? retry : null,
    );
    if (response.status === 401 && !path.startsWith("/api/session")) onUnauthorized(apiError);
    throw apiError;
  };
}
