// Ask the course: one conversation per course, answers streamed over the WebSocket with an HTTP
// fallback, each with the pages it cites.

import { api, openSocket } from "./api.js";
import { $, h } from "./dom.js";
import { pagesLabel } from "./format.js";
import { state } from "./state.js";

const chats = new Map();  // course id -> {sessionId, ws, log, busy, onframe, onclose}

function chatFor(courseId) {
  if (!chats.has(courseId)) {
    chats.set(courseId, {
      courseId, sessionId: null, ws: null, busy: false, onframe: null, onclose: null,
      // Focusable, so the scrolling conversation can be scrolled from the keyboard too.
      log: h("ol", { class: "chat-log", "aria-label": "Conversation", tabindex: 0 }),
    });
  }
  return chats.get(courseId);
}

export function showChat(course) {
  const chat = chatFor(course.id);
  document.title = `Ask · ${course.title} · ProfAI`;
  $("chat-log-slot").replaceChildren(chat.log);
  if (!chat.log.children.length) {
    chat.log.append(h("li", { class: "chat-empty muted" },
      "Ask anything about the course, for example “What is the main idea of the first lesson?”"));
  }
  setChatBusy(chat.busy);
}

/** Ask is enabled unless the open course's chat is answering or the course is still being indexed. */
export function refreshAsk() {
  setChatBusy(state.course ? chatFor(state.course.id).busy : false);
}

function setChatBusy(busy) {
  $("chat-send").disabled = busy || state.course?.search_ready === false;
  $("chat-send").textContent = busy ? "Answering…" : "Ask";
}

export function newConversation() {
  const chat = chatFor(state.course.id);
  if (chat.busy) return;
  chat.sessionId = null;
  chat.log.replaceChildren();
  showChat(state.course);
  $("chat-input").focus();
}

export async function submitQuestion(event) {
  event.preventDefault();
  const input = $("chat-input");
  const question = input.value.trim();
  const chat = chatFor(state.course.id);
  if (!question || chat.busy) return;
  input.value = "";
  chat.log.querySelector(".chat-empty")?.remove();
  const turn = addTurn(chat, question);
  chat.busy = true;
  setChatBusy(true);
  $("chat-status").textContent = "Answering…";
  try {
    try {
      await streamAnswer(chat, question, turn);
    } catch (err) {
      if (!err.fallback) throw err;
      await postAnswer(chat, question, turn);  // no WebSocket (proxy, old server): ask over HTTP
    }
  } catch (err) {
    turn.fail(err.message);
  } finally {
    chat.busy = false;
    if (state.course?.id === chat.courseId) setChatBusy(false);
    $("chat-status").textContent = turn.el.dataset.state === "error" ? "The question failed." : "Answer ready.";
  }
}

/** One question and its answer in the log; the answer fills in as frames arrive. */
function addTurn(chat, question) {
  const text = h("div", { class: "answer-text" });
  const meta = h("div", { class: "answer-meta" });
  const el = h("li", { class: "msg msg-bot", "data-state": "streaming", "data-tokens": "0", "aria-busy": "true" },
    h("p", { class: "msg-who" }, "ProfAI"), text, meta);
  chat.log.append(h("li", { class: "msg msg-user" }, h("p", { class: "msg-who" }, "You"), h("p", {}, question)), el);
  const stick = () => { chat.log.scrollTop = chat.log.scrollHeight; };
  stick();
  let tokens = 0;
  return {
    el,
    append(piece) {
      text.append(piece);
      el.dataset.tokens = String(++tokens);
      stick();
    },
    sources(list) {
      meta.querySelector(".sources")?.remove();
      if (list?.length) meta.prepend(citations(list));
      stick();
    },
    finish({ answer, grounded, note }) {
      if (answer && text.textContent.trim() !== answer.trim()) text.textContent = answer;
      if (!text.textContent.trim()) text.textContent = "No answer was given.";
      if (note) meta.append(h("p", { class: "note" }, note));
      else if (grounded === false) {
        meta.append(h("p", { class: "note" }, "The course material does not clearly cover this; check the sources."));
      }
      el.dataset.state = "done";
      el.removeAttribute("aria-busy");
      stick();
    },
    fail(message, code) {
      meta.append(h("p", { class: "error", role: "alert" }, message || "The question could not be answered.",
        code ? h("span", { class: "code" }, ` (${code})`) : null));
      el.dataset.state = "error";
      el.removeAttribute("aria-busy");
      stick();
    },
  };
}

function citations(sources) {
  return h("section", { class: "sources", "aria-label": "Sources" },
    h("h3", {}, "Sources"),
    h("ol", { class: "citations" }, sources.map((s) =>
      h("li", { class: "citation", value: s.number }, // the answer's [n] markers use these numbers
        h("span", { class: "cite-ref" }, pagesLabel(s.file, s.page, s.page_end, state.course)),
        s.quote ? h("blockquote", {}, s.quote) : null))));
}

async function streamAnswer(chat, question, turn) {
  const ws = await openSocket(chat);
  await new Promise((resolve, reject) => {
    let heard = false;
    const done = (fn, arg) => { chat.onframe = null; chat.onclose = null; fn(arg); };
    chat.onframe = (frame) => {
      heard = true;
      switch (frame.type) {
        case "session": chat.sessionId = frame.session_id || chat.sessionId; break;
        case "token": turn.append(frame.text ?? ""); break;
        case "sources": turn.sources(frame.sources); break;
        case "end":
          chat.sessionId = frame.session_id || chat.sessionId;
          turn.finish(frame);
          done(resolve);
          break;
        case "error":
          turn.fail(frame.message, frame.code);
          done(resolve);
          break;
        default: break;  // frame types added later are ignored
      }
    };
    chat.onclose = () => done(reject, heard
      ? new Error("The connection closed before the answer was complete.")
      : Object.assign(new Error("The chat connection closed."), { fallback: true }));
    const message = { course_id: chat.courseId, question };
    if (chat.sessionId) message.session_id = chat.sessionId;
    ws.send(JSON.stringify(message));
  });
}

async function postAnswer(chat, question, turn) {
  const body = { course_id: chat.courseId, question };
  if (chat.sessionId) body.session_id = chat.sessionId;
  const data = await api("/api/chat", { method: "POST", json: body });
  chat.sessionId = data.session_id || chat.sessionId;
  turn.append(data.answer || "");
  turn.sources(data.sources);
  turn.finish(data);
}

export function chatKeydown(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("chat-form").requestSubmit();
  }
}
