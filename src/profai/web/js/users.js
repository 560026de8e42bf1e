// Users (admins only): the list, adding a user with a role and a first password, disabling and enabling.

import { api } from "./api.js";
import { $, h, say } from "./dom.js";
import { dateLabel, ROLE_NAMES } from "./format.js";
import { state } from "./state.js";

export function initUsers() {
  $("user-form").addEventListener("submit", addUser);
}

export async function loadUsers() {
  const status = $("users-status");
  const list = $("user-list");
  if (!list.children.length) status.textContent = "Loading users…";
  try {
    const { users } = await api("/api/users?limit=1000");
    list.replaceChildren(...users.map(userItem));
    status.textContent = users.length ? `${users.length} ${users.length === 1 ? "user" : "users"}` : "No users yet.";
  } catch (err) {
    status.textContent = `Could not load the users: ${err.message}`;
  }
}

function userItem(user) {
  const self = user.id === state.me?.user?.id;
  const label = user.name ? `${user.name} (${user.email})` : user.email;
  return h("li", { class: `row${user.disabled ? " is-off" : ""}`, "data-user": user.email },
    h("div", { class: "row-main" },
      h("span", { class: "row-title" }, user.email),
      user.name ? h("span", { class: "muted" }, user.name) : null,
      h("span", { class: `badge role-${user.role}` }, ROLE_NAMES[user.role] || user.role),
      user.disabled ? h("span", { class: "badge bad" }, "Disabled") : null,
      self ? h("span", { class: "badge" }, "You") : null,
      h("span", { class: "row-facts muted" }, `added ${dateLabel(user.created_at)}`)),
    self ? null : h("div", { class: "row-actions" },
      h("button", { type: "button", class: "subtle", "aria-label": `${user.disabled ? "Enable" : "Disable"} ${label}`,
                    onclick: (event) => setDisabled(user, !user.disabled, event.currentTarget) },
        user.disabled ? "Enable" : "Disable")));
}

async function setDisabled(user, disabled, button) {
  button.disabled = true;
  try {
    await api(`/api/users/${user.id}`, { method: "PATCH", json: { disabled } });
    say($("users-live"), disabled ? `${user.email} is disabled and signed out everywhere.` : `${user.email} can sign in again.`,
      "success");
  } catch (err) {
    say($("users-live"), `Could not change ${user.email}: ${err.message}`);
  }
  await loadUsers();
  // Keep the keyboard where it was: on the same user's button.
  $("user-list").querySelector(`[data-user="${CSS.escape(user.email)}"] button`)?.focus();
}

async function addUser(event) {
  event.preventDefault();
  const live = $("user-form-live");
  const body = { email: $("user-email").value.trim(), name: $("user-name").value.trim(),
                 role: $("user-role").value, password: $("user-password").value };
  const problem = !body.email ? "Enter their email address."
    : body.password.length < 8 ? "The first password needs at least 8 characters." : "";
  if (problem) {
    say(live, problem);
    (body.email ? $("user-password") : $("user-email")).focus();
    return;
  }
  const button = $("user-submit");
  button.disabled = true;
  say(live, "");
  try {
    const user = await api("/api/users", { method: "POST", json: body });
    $("user-form").reset();
    say(live, `Added ${ROLE_NAMES[user.role]?.toLowerCase() || user.role} ${user.email}. Give them their first password.`,
      "success");
    await loadUsers();
    $("user-email").focus();
  } catch (err) {
    say(live, `Could not add the user: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}
