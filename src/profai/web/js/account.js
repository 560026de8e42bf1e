// Your account: change the password, and API keys (create one and see its secret once, list, revoke).

import { api } from "./api.js";
import { $, copyText, h, say, show } from "./dom.js";
import { dateLabel, ROLE_NAMES } from "./format.js";
import { state } from "./state.js";

export function initAccount() {
  $("password-form").addEventListener("submit", changePassword);
  $("key-form").addEventListener("submit", createKey);
  $("key-copy").addEventListener("click", copyKey);
  $("key-secret-done").addEventListener("click", hideSecret);
}

export async function showAccount() {
  const me = state.me;
  $("account-who").textContent = me.user
    ? `Signed in as ${me.user.email}${me.user.name ? ` (${me.user.name})` : ""} · ${ROLE_NAMES[me.role] || me.role}`
    : `Signed in with an API key · ${ROLE_NAMES[me.role] || me.role}`;
  await loadKeys();
}

// ------------------------------------------------------------------------------------ password

async function changePassword(event) {
  event.preventDefault();
  const live = $("password-live");
  const current = $("password-current").value;
  const next = $("password-new").value;
  const problem = !current ? "Enter your current password."
    : next.length < 8 ? "The new password needs at least 8 characters."
      : next !== $("password-confirm").value ? "The two new passwords differ." : "";
  if (problem) {
    say(live, problem);
    (!current ? $("password-current") : next.length < 8 ? $("password-new") : $("password-confirm")).focus();
    return;
  }
  const button = $("password-submit");
  button.disabled = true;
  say(live, "");
  try {
    await api("/api/auth/password", { method: "POST", json: { current_password: current, new_password: next } });
    $("password-form").reset();
    say(live, "Password changed. Your other sessions were signed out.", "success");
  } catch (err) {
    say(live, err.code === "wrong_password" ? "The current password is not right." : err.message);
    (err.code === "wrong_password" ? $("password-current") : $("password-new")).focus();
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------------------------ API keys

async function loadKeys() {
  const status = $("keys-status");
  const list = $("key-list");
  if (!list.children.length) status.textContent = "Loading keys…";
  try {
    const { keys } = await api("/api/keys");
    // Working keys first, newest first; revoked ones after them.
    keys.sort((a, b) => Boolean(a.revoked_at) - Boolean(b.revoked_at) || b.id - a.id);
    list.replaceChildren(...keys.map(keyItem));
    status.textContent = keys.length ? "" : "You have no API keys.";
  } catch (err) {
    status.textContent = `Could not load your keys: ${err.message}`;
  }
}

function keyItem(key) {
  const facts = [`created ${dateLabel(key.created_at)}`,
    key.revoked_at ? `revoked ${dateLabel(key.revoked_at)}`
      : key.last_used_at ? `last used ${dateLabel(key.last_used_at)}` : "never used"];
  return h("li", { class: `row${key.revoked_at ? " is-off" : ""}`, "data-key": key.id },
    h("div", { class: "row-main" },
      h("span", { class: "row-title" }, key.name),
      h("span", { class: "code muted" }, `${key.prefix}…`),
      key.revoked_at ? h("span", { class: "badge bad" }, "Revoked") : null,
      h("span", { class: "row-facts muted" }, facts.join(" · "))),
    key.revoked_at ? null : h("div", { class: "row-actions" }, revokeButton(key)));
}

/** "Revoke" asks once more, in place: a script using the key stops working for good. */
function revokeButton(key) {
  const box = h("span", { class: "confirm" });
  const ask = h("button", { type: "button", class: "subtle", "aria-label": `Revoke key “${key.name}”`,
    onclick: () => {
      box.replaceChildren(
        h("span", { class: "confirm-text" }, "Revoke it for good?"),
        h("button", { type: "button", class: "subtle danger", onclick: () => revoke(key),
                      "aria-label": `Yes, revoke key “${key.name}”` }, "Revoke"),
        h("button", { type: "button", class: "subtle", onclick: () => {
          box.replaceChildren(ask);
          ask.focus();
        } }, "Keep"));
      box.querySelector(".danger").focus();
    } }, "Revoke");
  box.append(ask);
  return box;
}

async function revoke(key) {
  try {
    await api(`/api/keys/${key.id}`, { method: "DELETE" });
    say($("keys-live"), `Key “${key.name}” revoked: it no longer works.`, "success");
  } catch (err) {
    say($("keys-live"), `Could not revoke “${key.name}”: ${err.message}`);
  }
  await loadKeys();
  $("key-name").focus();
}

async function createKey(event) {
  event.preventDefault();
  const name = $("key-name").value.trim();
  if (!name) {
    say($("keys-live"), "Give the key a name, saying what it is for.");
    $("key-name").focus();
    return;
  }
  const button = $("key-submit");
  button.disabled = true;
  say($("keys-live"), "");
  try {
    const created = await api("/api/keys", { method: "POST", json: { name } });
    $("key-form").reset();
    showSecret(created);
    await loadKeys();
  } catch (err) {
    say($("keys-live"), `Could not create the key: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function showSecret(created) {
  $("key-secret-name").textContent = created.name;
  $("key-secret-value").value = created.key;
  $("key-copy-status").textContent = "";
  show($("key-secret"));
  $("key-secret-heading").focus();
}

async function copyKey() {
  const input = $("key-secret-value");
  const copied = await copyText(input.value, input);
  $("key-copy-status").textContent = copied ? "Copied to the clipboard."
    : "The browser would not copy it: the key is selected, press Ctrl+C (⌘C).";
}

function hideSecret() {
  // The secret leaves the page: it cannot be shown again.
  $("key-secret-value").value = "";
  show($("key-secret"), false);
  $("key-name").focus();
}
