// The documented HTTP API, and nothing else: JSON or multipart bodies, the key (when the
// server has API_KEY) as a bearer token from localStorage, never in a URL, and errors as
// the API's stable code and message.

const KEY = "f5-tts-web.apiKey";
let askKey = null;

export class ApiError extends Error {
  constructor(status, code, message, param = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }

  /** How the page shows it: the stable code, then the message. */
  get text() {
    return `${this.code}: ${this.message}`;
  }
}

/** `ask(refused)` is called on a 401 and answers the key to retry with, or null. */
export function onKeyNeeded(ask) {
  askKey = ask;
}

export function storedKey() {
  return localStorage.getItem(KEY);
}

export function forgetKey() {
  localStorage.removeItem(KEY);
}

/** `fetch` with the key, answering the Response or throwing ApiError. */
export async function call(path, init = {}) {
  let refused = false;
  for (;;) {
    const key = storedKey();
    const headers = { ...(init.headers ?? {}), ...(key ? { Authorization: `Bearer ${key}` } : {}) };
    let response;
    try {
      response = await fetch(path, { ...init, headers });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", `the server could not be reached (${error.message})`);
    }
    if (response.status === 401 && askKey) {
      const entered = await askKey(refused || Boolean(key));
      if (entered) {
        localStorage.setItem(KEY, entered);
        refused = true;
        continue;
      }
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }
}

export function postJson(path, body, init = {}) {
  return call(path, {
    ...init,
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function errorOf(response) {
  try {
    const { error } = await response.json();
    return new ApiError(response.status, error.code, error.message, error.param);
  } catch {
    return new ApiError(response.status, `http_${response.status}`, response.statusText || "the request failed");
  }
}
