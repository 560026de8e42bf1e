// The live feed: one EventSource per tab on GET /api/events, which reports every change of this
// teacher's jobs and courses (an admin's: all of them), whichever tab, script or server process
// made it. EventSource reconnects by itself after a dropped connection; a refused one (too many
// tabs open, the server restarting) is tried again here, later and later. Until it is back, a
// tab's own upload is followed by polling its job (watchJob), so nothing waits on the feed.

import { api, sleep } from "./api.js";
import { canTeach, state } from "./state.js";

const FINAL = new Set(["completed", "partially_completed", "failed", "cancelled"]);
const listeners = { job: new Set(), course: new Set(), ready: new Set() };
export const live = { connected: false };

let source = null;
let owner = null;      // whose feed is open: another account signing in in this tab needs its own
let retryTimer = null;
let backoff = 5_000;

/** Call `fn(data)` for each event of `type` ("job", "course", "ready"); returns a function that stops it. */
export function onLive(type, fn) {
  listeners[type].add(fn);
  return () => listeners[type].delete(fn);
}

function emit(type, data) {
  for (const fn of listeners[type]) {
    try { fn(data); } catch (err) { console.error(err); }
  }
}

/** A job as GET /api/jobs/{id} describes it, with the feed's course_id and finished (the feed's
 *  events are that body with them already). */
export function jobView(job) {
  return { ...job, course_id: job.course_id ?? job.result?.course_id ?? null, finished: FINAL.has(job.status) };
}

/** Open the feed for whoever is signed in (teachers and admins), once; safe to call on every sign-in. */
export function startLive() {
  const who = state.me && canTeach() ? String(state.me.user?.id ?? "key") : null;
  if (who === owner && (source || retryTimer)) return;
  stopLive();
  owner = who;
  if (who && typeof EventSource !== "undefined") connect();
}

export function stopLive() {
  clearTimeout(retryTimer);
  retryTimer = null;
  source?.close();
  source = null;
  owner = null;
  live.connected = false;
}

function connect() {
  const es = new EventSource("/api/events");
  source = es;
  const data = (event) => { try { return JSON.parse(event.data); } catch { return {}; } };
  es.addEventListener("ready", (event) => {
    live.connected = true;
    backoff = 5_000;
    emit("ready", data(event));  // (re)connected: what was missed meanwhile is reloaded
  });
  es.addEventListener("job", (event) => emit("job", jobView(data(event))));
  es.addEventListener("course", (event) => emit("course", data(event)));
  es.onerror = () => {
    if (source !== es) return;
    live.connected = false;
    if (es.readyState !== EventSource.CLOSED) return;  // reconnecting by itself
    // Refused (429: every tab's feed is open; 503; 401: signed out): try again later, not in a loop.
    source = null;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (owner && state.me) connect();
    }, backoff);
    backoff = Math.min(backoff * 2, 60_000);
  };
}

/** Follow one job until it ends: `onUpdate(job)` on each change; resolves with the final job.
 *  Events of the feed while it is connected; a status read a second while it is not. */
export function watchJob(jobId, onUpdate) {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (job, err) => {
      if (done) return;
      done = true;
      off();
      if (err) reject(err); else resolve(job);
    };
    const seen = (job) => {
      if (done) return;
      onUpdate(job);
      if (job.finished) finish(job);
    };
    const off = onLive("job", (job) => { if (job.job_id === jobId) seen(job); });
    (async () => {
      let misses = 0;
      let first = true;
      while (!done) {
        if (first || !live.connected) {
          try {
            seen(jobView(await api(`/api/jobs/${encodeURIComponent(jobId)}`)));
            misses = 0;
          } catch (err) {
            if (err.status !== 0 || ++misses >= 20) { finish(null, err); return; }
          }
          first = false;
        }
        await sleep(1_000);
      }
    })();
  });
}
