// Past conversations of the open course, the signed-in person's own: listed beside the chat, latest
// first, each reopened with a click (chat.js fills the log) or deleted.

import { api } from "./api.js";
import { confirmDialog } from "./confirm.js";
import { $, h, show } from "./dom.js";
import { dateLabel, plural } from "./format.js";
import { state } from "./state.js";

const SHOWN = 20;  // the latest conversations listed; older ones stay on the server
let seq = 0;

/** List the course's conversations, marking `currentId`; `on.open(id)` reopens one, `on.deleted(id)`
 *  hears of one deleted. */
export async function showHistory(course, currentId, on, problem = "") {
  const mine = ++seq;
  const list = $("chat-history-list");
  try {
    const data = await api(`/api/courses/${course.id}/chats?limit=${SHOWN}`);
    if (mine !== seq || state.course !== course) return;
    list.replaceChildren(...data.chats.map((c) => item(course, c, c.session_id === currentId, on)));
    show($("chat-history"), data.chats.length > 0);
    $("chat-history-note").textContent = problem || (data.total > SHOWN ? `The latest ${SHOWN} of ${data.total}.` : "");
  } catch (err) {
    if (mine !== seq) return;
    $("chat-history-note").textContent = `Could not list past conversations: ${err.message}`;
  }
}

function item(course, chat, current, on) {
  const facts = `${dateLabel(chat.updated_at, true)} · ${plural(Math.ceil(chat.messages / 2), "question")}`;
  return h("li", { class: "chat-past", "data-session": chat.session_id },
    h("button", { type: "button", class: "chat-past-open", "aria-current": current ? "true" : null,
                  onclick: () => on.open(chat.session_id) },
      h("span", { class: "chat-past-title" }, chat.title),
      h("span", { class: "chat-past-facts muted" }, facts)),
    h("button", { type: "button", class: "subtle chat-past-delete", "aria-label": `Delete “${chat.title}”`,
                  onclick: () => remove(course, chat, on) }, "Delete"));
}

async function remove(course, chat, on) {
  const yes = await confirmDialog({ title: `Delete “${chat.title}”?`, confirm: "Delete conversation",
                                    cancel: "Keep it", body: "Its questions and answers are removed. This cannot be undone." });
  if (!yes) return;
  try {
    await api(`/api/chats/${encodeURIComponent(chat.session_id)}`, { method: "DELETE" });
  } catch (err) {
    $("chat-history-note").textContent = `Could not delete it: ${err.message}`;
    return;
  }
  $("chat-status").textContent = "Conversation deleted.";
  on.deleted(chat.session_id);
}
