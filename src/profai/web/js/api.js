// Talking to the server: JSON over fetch(), the chat WebSocket, and a retry pause.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// Called on any 401 (not signed in, or the session ended): the app shows the sign-in screen.
let unauthorized = () => {};
export function onUnauthorized(handler) { unauthorized = handler; }

/** fetch() a JSON endpoint; a 4xx/5xx becomes an ApiError carrying the server's `message`.
 *  The session cookie goes along (same-origin credentials, fetch's default); a 401 also calls the
 *  onUnauthorized handler unless `signIn: false` (the sign-in requests, which handle it themselves). */
export async function api(path, { method = "GET", json, body, signIn = true } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body) {
    init.body = body;
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError("Could not reach the ProfAI server. Check the connection and try again.", "network_error", 0);
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (resp.status === 401 && signIn) unauthorized(data?.message);
  if (!resp.ok) {
    throw new ApiError(data?.message || `The server answered ${resp.status} ${resp.statusText}`,
      data?.code || "http_error", resp.status);
  }
  return data;
}

/** fetch() a file (lesson audio) as a Blob; a 4xx/5xx becomes an ApiError carrying the server's `message`. */
export async function fetchBlob(path) {
  const resp = await fetch(path, { credentials: "same-origin" });
  if (!resp.ok) {
    const data = await resp.json().catch(() => null);
    if (resp.status === 401) unauthorized(data?.message);
    throw new ApiError(data?.message || `The server answered ${resp.status}`, data?.code, resp.status);
  }
  return resp.blob();
}

const socketUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat`;

/** The course's socket, opened on first use and reused, so follow-ups share one connection.
 *  `chat` holds it: {ws, onframe, onclose}; frames and the close go to its current handlers. */
export function openSocket(chat) {
  if (chat.ws?.readyState === WebSocket.OPEN) return Promise.resolve(chat.ws);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(socketUrl());
    ws.onopen = () => { chat.ws = ws; resolve(ws); };
    ws.onerror = () => reject(Object.assign(new Error("The chat connection failed."), { fallback: true }));
    ws.onclose = () => {
      if (chat.ws === ws) chat.ws = null;
      reject(Object.assign(new Error("The chat connection closed."), { fallback: true }));
      chat.onclose?.();
    };
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      chat.onframe?.(frame);
    };
  });
}
