// Signing in and out: the sign-in screen, the first-run "Create the admin account" form, who is
// signed in (shown in the header), and what a 401 means (the session ended: sign in again).

import { api, onUnauthorized } from "./api.js";
import { $, say, show } from "./dom.js";
import { ROLE_NAMES } from "./format.js";
import { state } from "./state.js";

const VIEWS = ["view-signin", "view-setup", "view-courses", "view-course", "view-account", "view-users"];

/** Show one of the page's views (by id) and hide the others. */
export function showView(id) {
  for (const view of VIEWS) show($(view), view === id);
  show($("boot-status"), false);
}

let onSignedIn = () => {};
let lastUserId;  // who was signed in before the session ended, so a different account starts afresh

/** `signedIn(me)` runs once someone is signed in (at start or after the sign-in form). */
export function initAuth(signedIn) {
  onSignedIn = signedIn;
  $("signin-form").addEventListener("submit", submitSignIn);
  $("setup-form").addEventListener("submit", submitSetup);
  $("sign-out").addEventListener("click", signOut);
  onUnauthorized(() => {
    if (!state.me) return;  // the sign-in screen is up already
    showSignIn("Your session has ended. Sign in again to go on.");
  });
}

/** Who is signed in (GET /api/auth/me), or null. */
export async function whoAmI() {
  try {
    return await api("/api/auth/me", { signIn: false });
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

/** Everything signed-in users see depends on who they are: the header and what each role may do. */
export function applyIdentity(me) {
  state.me = me;
  lastUserId = me.user?.id ?? null;
  const role = me.role;
  document.body.dataset.role = role;
  const name = me.user ? me.user.email : "API key";
  $("whoami-text").textContent = `${name} · ${ROLE_NAMES[role] || role}`;
  show($("whoami"));
  show($("main-nav"));
  show($("nav-users"), role === "admin");
  // Teachers and admins make courses; students join them with a code.
  show($("upload-card"), role !== "student");
  show($("join-card"), role === "student");
}

/** The sign-in screen, or the first-run form while the server has no account at all. */
export async function showSignIn(message = "") {
  state.me = null;
  delete document.body.dataset.role;
  show($("whoami"), false);
  show($("main-nav"), false);
  let setupNeeded = false;
  try {
    setupNeeded = (await api("/api/setup", { signIn: false })).setup_needed;
  } catch { /* the sign-in form is the safe default */ }
  document.title = setupNeeded ? "Set up · ProfAI" : "Sign in · ProfAI";
  showView(setupNeeded ? "view-setup" : "view-signin");
  if (setupNeeded) {
    for (const el of document.querySelectorAll(".setup-port")) el.textContent = location.port || "80";
    say($("setup-live"), "");
    $("setup-email").focus();
  } else {
    say($("signin-live"), message, "note");
    $("signin-password").value = "";
    ($("signin-email").value ? $("signin-password") : $("signin-email")).focus();
  }
}

function busy(button, on, label) {
  button.disabled = on;
  button.textContent = label;
}

async function submitSignIn(event) {
  event.preventDefault();
  const email = $("signin-email").value.trim();
  const password = $("signin-password").value;
  const live = $("signin-live");
  if (!email || !password) {
    say(live, email ? "Enter your password." : "Enter your email address.");
    (email ? $("signin-password") : $("signin-email")).focus();
    return;
  }
  const button = $("signin-submit");
  busy(button, true, "Signing in…");
  say(live, "");
  try {
    await api("/api/auth/login", { method: "POST", json: { email, password }, signIn: false });
    await finishSignIn();
  } catch (err) {
    say(live, err.status === 401 ? "Wrong email or password." : `Could not sign in: ${err.message}`);
    $("signin-password").select();
    $("signin-password").focus();
  } finally {
    busy(button, false, "Sign in");
  }
}

async function submitSetup(event) {
  event.preventDefault();
  const email = $("setup-email").value.trim();
  const password = $("setup-password").value;
  const live = $("setup-live");
  const problem = !email ? "Enter the admin's email address."
    : password.length < 8 ? "The password needs at least 8 characters."
      : password !== $("setup-confirm").value ? "The two passwords differ." : "";
  if (problem) {
    say(live, problem);
    (!email ? $("setup-email") : password.length < 8 ? $("setup-password") : $("setup-confirm")).focus();
    return;
  }
  const button = $("setup-submit");
  busy(button, true, "Creating…");
  say(live, "");
  try {
    await api("/api/setup", { method: "POST", json: { email, password }, signIn: false });
    $("setup-form").reset();
    await finishSignIn();
  } catch (err) {
    if (err.code === "already_set_up") {
      await showSignIn("ProfAI is set up already: sign in.");
      return;
    }
    say(live, err.code === "setup_local_only"
      ? "This only works in a browser on the server itself (http://127.0.0.1:PORT/). Use `profai admin create` there instead."
        .replace("PORT", location.port || "80")
      : `Could not create the account: ${err.message}`);
  } finally {
    busy(button, false, "Create the admin account");
  }
}

async function finishSignIn() {
  const me = await whoAmI();
  if (!me) throw Object.assign(new Error("The browser did not keep the session cookie."), { status: 0 });
  if (lastUserId !== undefined && lastUserId !== (me.user?.id ?? null)) {
    // Someone else signed in where a session ended: start from a clean page, not the last user's.
    location.hash = "#/";
    location.reload();
    return;
  }
  $("signin-password").value = "";
  applyIdentity(me);
  await onSignedIn(me);
}

async function signOut() {
  const button = $("sign-out");
  button.disabled = true;
  try {
    await api("/api/auth/logout", { method: "POST", signIn: false });
  } catch (err) {
    if (err.status !== 401) {  // 401: signed out already
      button.disabled = false;
      alertSignOut(err.message);
      return;
    }
  }
  // A fresh page: nothing of this account (open sockets, chats, quizzes) stays behind.
  sessionStorage.clear();
  location.hash = "#/";
  location.reload();
}

function alertSignOut(message) {
  $("whoami-text").textContent = `Could not sign out: ${message}`;
}
