// Ask the course: one conversation per course, answers streamed over the WebSocket with an HTTP
// fallback, each with the pages it cites. Past conversations are listed (chat_history.js) and
// reopened; a question can be narrowed to one lesson; a streaming answer can be stopped.

import { api, openSocket } from "./api.js";
import { $, h } from "./dom.js";
import { pagesLabel } from "./format.js";
import { showHistory } from "./chat_history.js";
import { citeButton, linkMarkers } from "./source_view.js";
import { routes, state } from "./state.js";

const STOP_GRACE_MS = 3000;  // a stop not answered by then closes the socket instead

// course id -> {sessionId, lesson: {id, title} | null, ws, log, busy, stop, onframe, onclose}
const chats = new Map();

function chatFor(courseId) {
  if (!chats.has(courseId)) {
    chats.set(courseId, {
      courseId, sessionId: null, lesson: null, ws: null, busy: false, stop: null, onframe: null, onclose: null,
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
  showScope(chat);
  setChatBusy(chat.busy);
  showHistory(course, chat.sessionId, historyHandlers(course));
}

function historyHandlers(course) {
  return {
    open: (sessionId) => reopen(course, sessionId),
    deleted: (sessionId) => {
      const chat = chatFor(course.id);
      if (chat.sessionId === sessionId && !chat.busy) {
        chat.sessionId = null;
        chat.log.replaceChildren();
      }
      if (state.course === course) showChat(course);
    },
  };
}

/** "Ask about this lesson": the next questions are answered from that lesson's pages only. */
export function askAboutLesson(lessonId) {
  const course = state.course;
  const lesson = course?.modules.flatMap((m) => m.lessons).find((l) => l.id === Number(lessonId));
  if (!lesson) return;
  const chat = chatFor(course.id);
  if (!chat.busy) {
    chat.sessionId = null;
    chat.log.replaceChildren();
  }
  chat.lesson = { id: lesson.id, title: lesson.title };
  if (location.hash !== routes.chat(course.id)) location.hash = routes.chat(course.id);
  else showChat(course);
  $("chat-input").focus();
}

function showScope(chat) {
  const box = $("chat-scope");
  box.hidden = !chat.lesson;
  $("chat-scope-title").textContent = chat.lesson?.title || "";
  $("chat-input").placeholder = chat.lesson ? `Ask about “${chat.lesson.title}”…` : "Ask a question about this course…";
}

export function wholeCourse() {
  const chat = chatFor(state.course.id);
  chat.lesson = null;
  showScope(chat);
  $("chat-input").focus();
}

/** Reopen a past conversation: its exchanges in the log, follow-ups continue it. */
async function reopen(course, sessionId) {
  const chat = chatFor(course.id);
  if (chat.busy) return;
  $("chat-status").textContent = "Opening the conversation…";
  try {
    const data = await api(`/api/chats/${encodeURIComponent(sessionId)}`);
    if (state.course !== course || chat.busy) return;
    chat.sessionId = data.session_id;
    chat.log.replaceChildren();
    let question = null;
    for (const m of data.messages) {
      if (m.role === "user") { question = m.content; continue; }
      const turn = addTurn(chat, question ?? "");
      turn.append(m.content);
      turn.sources(m.sources);
      turn.finish({ answer: m.content });
      question = null;
    }
    showChat(course);
    $("chat-status").textContent = "Conversation opened.";
    $("chat-input").focus();
  } catch (err) {
    $("chat-status").textContent = `Could not open the conversation: ${err.message}`;
    showHistory(course, chat.sessionId, historyHandlers(course), err.message);
  }
}

/** Ask is enabled unless the open course's chat is answering or the course is still being indexed. */
export function refreshAsk() {
  setChatBusy(state.course ? chatFor(state.course.id).busy : false);
}

function setChatBusy(busy) {
  $("chat-send").disabled = busy || state.course?.search_ready === false;
  $("chat-send").textContent = busy ? "Answering…" : "Ask";
  const chat = state.course ? chatFor(state.course.id) : null;
  $("chat-stop").hidden = !(busy && chat?.stop);
}

export function newConversation() {
  const chat = chatFor(state.course.id);
  if (chat.busy) return;
  chat.sessionId = null;
  chat.log.replaceChildren();
  showChat(state.course);
  $("chat-input").focus();
}

/** Stop the answer being streamed: the server ends it and keeps what was said. */
export function stopAnswer() {
  const chat = state.course ? chatFor(state.course.id) : null;
  chat?.stop?.();
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
    chat.stop = null;
    if (state.course?.id === chat.courseId) {
      setChatBusy(false);
      showHistory(state.course, chat.sessionId, historyHandlers(state.course));
    }
    $("chat-status").textContent = { error: "The question failed.", stopped: "Answer stopped." }[turn.el.dataset.state]
      || "Answer ready.";
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
      linkMarkers(el);  // [n] in the answer opens source n
      stick();
    },
    stopped(answer) {
      if (answer != null && text.textContent.trim() !== answer.trim()) text.textContent = answer;
      meta.append(h("p", { class: "note" }, "Stopped."));
      el.dataset.state = "stopped";
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
        citeButton(s, pagesLabel(s.file, s.page, s.page_end, state.course)),  // opens the page it cites
        s.quote ? h("blockquote", {}, s.quote) : null))));
}

async function streamAnswer(chat, question, turn) {
  const ws = await openSocket(chat);
  await new Promise((resolve, reject) => {
    let heard = false;
    let finished = false;
    const done = (fn, arg) => { finished = true; chat.onframe = null; chat.onclose = null; fn(arg); };
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
        case "stopped":
          chat.sessionId = frame.session_id || chat.sessionId;
          turn.stopped(frame.answer);
          done(resolve);
          break;
        case "error":
          turn.fail(frame.message, frame.code);
          done(resolve);
          break;
        default: break;  // frame types added later are ignored
      }
    };
    let stopping = false;
    chat.onclose = () => {
      if (stopping) { turn.stopped(null); done(resolve); return; }  // closed by the Stop button
      done(reject, heard
        ? new Error("The connection closed before the answer was complete.")
        : Object.assign(new Error("The chat connection closed."), { fallback: true }));
    };
    chat.stop = () => {
      if (stopping) return;
      stopping = true;
      $("chat-stop").hidden = true;
      $("chat-status").textContent = "Stopping…";
      ws.send(JSON.stringify({ type: "stop" }));
      // A server that does not answer the stop in time: leaving ends the answer too.
      setTimeout(() => { if (!finished) ws.close(); }, STOP_GRACE_MS);
    };
    setChatBusy(true);
    ws.send(JSON.stringify(ask(chat, question)));
  });
}

/** The question as the server takes it, over the socket or HTTP. */
function ask(chat, question) {
  const message = { course_id: chat.courseId, question };
  if (chat.sessionId) message.session_id = chat.sessionId;
  if (chat.lesson) message.lesson_id = chat.lesson.id;
  return message;
}

async function postAnswer(chat, question, turn) {
  const body = ask(chat, question);
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

/** Wire what this module owns beyond the form app.js wires: Stop, the lesson scope, and the lesson
 *  view's "Ask about this lesson" (also reachable as a "profai:ask-lesson" event with detail.lessonId). */
export function initChat() {
  $("chat-stop").addEventListener("click", stopAnswer);
  $("chat-scope-clear").addEventListener("click", wholeCourse);
  $("ask-lesson").addEventListener("click", () => askAboutLesson($("lesson-panel").dataset.lesson));
  document.addEventListener("profai:ask-lesson", (event) => askAboutLesson(event.detail?.lessonId));
}
