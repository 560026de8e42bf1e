// ProfAI web UI: one page, hash routes, no build step. Every piece of server text goes into the
// page through textContent (via h()), never innerHTML, so course content cannot inject markup.

const POLL_MS = 500;
const MAX_QUESTIONS = 30;  // the server's limit (services/quizzes.py)
const JOB_KEY = "profai.uploadJob";
const FINAL_OK = new Set(["completed", "partially_completed"]);
const FINAL_BAD = new Set(["failed", "cancelled"]);

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A DOM element: h("a", {href: "#/", class: "x", onclick: fn}, "text", child). */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

function show(el, visible = true) { el.hidden = !visible; }

function showError(el, message) {
  el.textContent = message || "";
  show(el, Boolean(message));
}

// ---------------------------------------------------------------------------------------- API

class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** fetch() a JSON endpoint; a 4xx/5xx becomes an ApiError carrying the server's `message`. */
async function api(path, { method = "GET", json, body } = {}) {
  const init = { method, headers: { Accept: "application/json" } };
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
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    throw new ApiError(data?.message || `The server answered ${resp.status} ${resp.statusText}`,
      data?.code || "http_error", resp.status);
  }
  return data;
}

/** "biology.pdf, pages 3-5" (or "page 3" when the range is one page). */
function pagesLabel(file, start, end) {
  const pages = !end || end === start ? `page ${start}` : `pages ${start}-${end}`;
  return file ? `${file}, ${pages}` : pages;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// ------------------------------------------------------------------------------------- routing

/** The hash as a route: #/, #/courses/1, #/courses/1/lessons/7, #/courses/1/chat, #/courses/1/quiz. */
function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] !== "courses" || !/^\d+$/.test(parts[1] || "")) return { view: "courses" };
  const courseId = Number(parts[1]);
  if (parts[2] === "chat") return { view: "course", courseId, panel: "chat" };
  if (parts[2] === "quiz") return { view: "course", courseId, panel: "quiz" };
  const lessonId = parts[2] === "lessons" && /^\d+$/.test(parts[3] || "") ? Number(parts[3]) : null;
  return { view: "course", courseId, panel: "lesson", lessonId };
}

const routes = {
  course: (cid) => `#/courses/${cid}`,
  lesson: (cid, lid) => `#/courses/${cid}/lessons/${lid}`,
  chat: (cid) => `#/courses/${cid}/chat`,
  quiz: (cid) => `#/courses/${cid}/quiz`,
};

const state = {
  course: null,         // the open course, as GET /api/courses/{id} returns it
  seq: 0,               // bumps on each navigation, so a late response for an old route is dropped
  firstRender: true,
};

async function render() {
  const seq = ++state.seq;
  const route = parseRoute();
  show($("view-courses"), route.view === "courses");
  show($("view-course"), route.view === "course");
  if (route.view === "courses") {
    stopAudio();  // the course view is hidden, so nothing should go on playing in it
    document.title = "Courses · ProfAI";
    focusHeading($("courses-heading"));
    await loadCourses();
    return;
  }
  if (!state.course || state.course.id !== route.courseId) {
    const ok = await openCourse(route.courseId, seq);
    if (!ok || seq !== state.seq) return;
  }
  showPanel(route);
}

function focusHeading(el) {
  // Move focus on navigation so keyboard and screen-reader users land on the new content;
  // not on first load, where the browser's own start point is expected.
  if (state.firstRender) return;
  el.focus({ preventScroll: false });
}

// -------------------------------------------------------------------------------- courses list

async function loadCourses() {
  const status = $("courses-status");
  const list = $("course-list");
  if (!list.children.length) status.textContent = "Loading courses…";
  try {
    const data = await api("/api/courses");
    list.replaceChildren(...data.courses.map(courseItem));
    status.textContent = data.total ? "" : "No courses yet. Create one from your PDFs with the form.";
  } catch (err) {
    status.textContent = `Could not load the courses: ${err.message}`;
  }
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

function courseItem(c) {
  const created = c.created_at ? dateFormat.format(new Date(c.created_at)) : "";
  return h("li", { class: "course-item" },
    h("a", { href: routes.course(c.id) }, c.title),
    h("p", { class: "muted" }, [plural(c.modules, "module"), plural(c.lessons, "lesson"), created]
      .filter(Boolean).join(" · ")));
}

// ------------------------------------------------------------------------------ upload + job

function setUploading(busy) {
  for (const el of $("upload-form").elements) el.disabled = busy;
  $("upload-submit").textContent = busy ? "Creating…" : "Create course";
}

async function submitUpload(event) {
  event.preventDefault();
  const title = $("course-title").value.trim();
  const files = [...$("course-files").files];
  const problem = !title ? "Give the course a title." : !files.length ? "Choose at least one PDF file." : "";
  showError($("upload-form-error"), problem);
  if (problem) {
    (title ? $("course-files") : $("course-title")).focus();
    return;
  }
  const form = new FormData();
  form.append("course_title", title);
  for (const file of files) form.append("files", file, file.name);

  setUploading(true);
  startJobDisplay(title, `Uploading ${plural(files.length, "file")}…`);
  try {
    const accepted = await api("/api/upload-pdfs", { method: "POST", body: form });
    sessionStorage.setItem(JOB_KEY, JSON.stringify({ url: accepted.status_url, title }));
    $("upload-message").textContent = accepted.message || "Processing started";
    await pollJob(accepted.status_url, title);
  } catch (err) {
    finishJobDisplay();
    showError($("upload-error"), err.message);
  } finally {
    setUploading(false);
  }
}

function startJobDisplay(title, message) {
  show($("upload-job"));
  $("upload-job-title").textContent = `“${title}”`;
  setProgress(0);
  $("upload-message").textContent = message;
  showError($("upload-error"), "");
  show($("upload-done"), false);
}

function setProgress(value) {
  const pct = Math.max(0, Math.min(100, Math.round(value || 0)));
  $("upload-progress").value = pct;
  $("upload-percent").textContent = `${pct}%`;
}

function finishJobDisplay() {
  sessionStorage.removeItem(JOB_KEY);
}

/** Poll a job's status_url every POLL_MS until it ends; a dropped connection is retried, not fatal. */
async function pollJob(url, title) {
  let misses = 0;
  for (;;) {
    let job;
    try {
      job = await api(url);
      misses = 0;
    } catch (err) {
      if (err.status === 0 && ++misses < 20) {
        $("upload-message").textContent = "Lost contact with the server; retrying…";
        await sleep(POLL_MS);
        continue;
      }
      throw err;
    }
    setProgress(job.progress);
    $("upload-message").textContent = job.message || job.status;
    if (FINAL_OK.has(job.status)) {
      finishJobDisplay();
      courseReady(job, title);
      return;
    }
    if (FINAL_BAD.has(job.status)) {
      finishJobDisplay();
      const code = job.error_code ? ` (${job.error_code})` : "";
      showError($("upload-error"), `The course could not be built: ${job.error || job.message}${code}`);
      return;
    }
    await sleep(POLL_MS);
  }
}

function courseReady(job, title) {
  const result = job.result || {};
  const done = $("upload-done");
  const name = result.course_title || title;
  done.replaceChildren("Course ready: ",
    result.course_id ? h("a", { href: routes.course(result.course_id) }, `Open “${name}”`) : name);
  show(done);
  setProgress(100);
  $("upload-form").reset();
  loadCourses();
}

/** After a reload, pick up the job this tab started, so its progress is not lost. */
function resumeJob() {
  const saved = JSON.parse(sessionStorage.getItem(JOB_KEY) || "null");
  if (!saved?.url) return;
  setUploading(true);
  startJobDisplay(saved.title, "Checking progress…");
  pollJob(saved.url, saved.title)
    .catch((err) => { finishJobDisplay(); showError($("upload-error"), err.message); })
    .finally(() => setUploading(false));
}

// ---------------------------------------------------------------------------------- course view

async function openCourse(courseId, seq) {
  resetCourseView();
  $("course-heading").textContent = "Loading course…";
  try {
    const course = await api(`/api/courses/${courseId}`);
    if (seq !== state.seq) return false;
    state.course = course;
    fillCourse(course);
    return true;
  } catch (err) {
    if (seq !== state.seq) return false;
    $("course-heading").textContent = err.status === 404 ? "Course not found" : "Could not open the course";
    showError($("course-error"), err.message);
    show($("course-body"), false);
    return false;
  }
}

function resetCourseView() {
  state.course = null;
  stopAudio();
  showError($("course-error"), "");
  show($("course-body"));
  $("course-files-list").textContent = "";
  $("module-list").replaceChildren();
  resetQuiz();
}

function fillCourse(course) {
  document.title = `${course.title} · ProfAI`;
  $("course-heading").textContent = course.title;
  $("course-files-list").textContent = course.source_files?.length
    ? `From ${course.source_files.map((f) => `${f.filename} (${plural(f.pages, "page")})`).join(", ")}`
    : "";
  $("module-list").replaceChildren(...course.modules.map((m, i) =>
    h("li", { class: "module" },
      h("span", { class: "module-title" }, `${i + 1}. ${m.title}`),
      h("ol", { class: "lessons" }, m.lessons.map((l) =>
        h("li", {}, h("a", { href: routes.lesson(course.id, l.id), "data-lesson": l.id }, l.title)))))));
  $("nav-chat").href = routes.chat(course.id);
  $("nav-quiz").href = routes.quiz(course.id);
  $("quiz-module").replaceChildren(h("option", { value: "" }, "The whole course"),
    ...course.modules.map((m) => h("option", { value: m.id }, m.title)));
}

function allLessons(course) {
  return course.modules.flatMap((m, i) => m.lessons.map((l) => ({ ...l, module: m, moduleNumber: i + 1 })));
}

function showPanel(route) {
  const course = state.course;
  const panels = { lesson: $("lesson-panel"), chat: $("chat-panel"), quiz: $("quiz-panel") };
  for (const [name, el] of Object.entries(panels)) show(el, name === route.panel);
  // Mark where the reader is in the sidebar.
  for (const a of document.querySelectorAll("#course-nav a")) a.removeAttribute("aria-current");
  let current = route.panel === "chat" ? $("nav-chat") : route.panel === "quiz" ? $("nav-quiz") : null;
  collapseNav();

  if (route.panel === "lesson") {
    const lessons = allLessons(course);
    const index = route.lessonId == null ? 0 : lessons.findIndex((l) => l.id === route.lessonId);
    if (!lessons.length || index < 0) {
      show(panels.lesson, false);
      showError($("course-error"), lessons.length ? "That lesson is not part of this course." : "This course has no lessons yet.");
      return;
    }
    showError($("course-error"), "");
    showLesson(course, lessons, index);
    current = document.querySelector(`#course-nav a[data-lesson="${lessons[index].id}"]`);
    focusHeading(route.lessonId == null ? $("course-heading") : $("lesson-title"));
  } else if (route.panel === "chat") {
    stopAudio();
    showChat(course);
    focusHeading($("chat-heading"));
  } else {
    stopAudio();
    document.title = `Quiz · ${course.title} · ProfAI`;
    focusHeading($("quiz-heading"));
  }
  current?.setAttribute("aria-current", "page");
}

function collapseNav() {
  $("nav-toggle").setAttribute("aria-expanded", "false");
  $("course-nav").classList.remove("open");
}

function toggleNav() {
  const open = $("nav-toggle").getAttribute("aria-expanded") !== "true";
  $("nav-toggle").setAttribute("aria-expanded", String(open));
  $("course-nav").classList.toggle("open", open);
}

// -------------------------------------------------------------------------------------- lesson

function showLesson(course, lessons, index) {
  const lesson = lessons[index];
  if ($("lesson-panel").dataset.lesson !== String(lesson.id)) stopAudio();
  $("lesson-panel").dataset.lesson = lesson.id;
  document.title = `${lesson.title} · ${course.title} · ProfAI`;
  $("lesson-module").textContent = `Module ${lesson.moduleNumber} · ${lesson.module.title}`;
  $("lesson-title").textContent = lesson.title;
  $("lesson-source").textContent = pagesLabel(lesson.source_file, lesson.page_start, lesson.page_end);
  $("lesson-summary").textContent = lesson.summary || "No summary for this lesson.";
  $("lesson-terms").replaceChildren(...(lesson.key_terms || []).map((t) => h("li", {}, t)));
  show($("terms-section"), Boolean(lesson.key_terms?.length));
  $("lesson-content").replaceChildren(...paragraphs(lesson.content).map((p) => h("p", {}, p)));

  const prev = lessons[index - 1];
  const next = lessons[index + 1];
  pagerLink($("prev-lesson"), prev && routes.lesson(course.id, prev.id), prev && `← ${prev.title}`);
  pagerLink($("next-lesson"), next && routes.lesson(course.id, next.id), next && `${next.title} →`);
}

function paragraphs(text) {
  const blocks = (text || "").split(/\n\s*\n/).map((p) => p.replace(/\s*\n\s*/g, " ").trim()).filter(Boolean);
  return blocks.length ? blocks : ["This lesson has no text."];
}

function pagerLink(a, href, label) {
  show(a, Boolean(href));
  if (href) { a.href = href; a.textContent = label; }
}

// --------------------------------------------------------------------------------------- audio

const audioState = { url: null, lessonKey: null, loading: null };

function stopAudio() {
  const audio = $("lesson-audio");
  audio.pause();
  audio.removeAttribute("src");
  audio.load();
  show(audio, false);
  if (audioState.url) URL.revokeObjectURL(audioState.url);
  Object.assign(audioState, { url: null, lessonKey: null, loading: null });
  $("listen-status").textContent = "";
  $("listen-button").textContent = "Listen";
  $("listen-button").disabled = false;
}

async function listen() {
  const audio = $("lesson-audio");
  const course = state.course;
  const lessonId = $("lesson-panel").dataset.lesson;
  const key = `${course.id}/${lessonId}`;
  if (audioState.lessonKey === key) {  // already loaded: the button plays and pauses
    if (audio.paused) audio.play().catch(() => {}); else audio.pause();
    return;
  }
  const button = $("listen-button");
  const status = $("listen-status");
  button.disabled = true;
  status.textContent = "Preparing audio…";
  const loading = {};
  audioState.loading = loading;
  try {
    // Fetched rather than streamed through <audio src>, so a failure shows the server's message.
    const resp = await fetch(`/api/courses/${course.id}/lessons/${lessonId}/audio`);
    if (!resp.ok) {
      const data = await resp.json().catch(() => null);
      throw new ApiError(data?.message || `The server answered ${resp.status}`, data?.code, resp.status);
    }
    const blob = await resp.blob();
    if (audioState.loading !== loading) return;  // the reader moved on meanwhile
    audioState.url = URL.createObjectURL(blob);
    audioState.lessonKey = key;
    audio.src = audioState.url;
    show(audio);
    status.textContent = "";
    await audio.play().catch(() => { status.textContent = "Audio ready; press play."; });
  } catch (err) {
    if (audioState.loading === loading) status.textContent = `Could not play the lesson: ${err.message}`;
  } finally {
    if (audioState.loading === loading) button.disabled = false;
  }
}

function syncListenButton() {
  $("listen-button").textContent = $("lesson-audio").paused ? "Listen" : "Pause";
}

// ---------------------------------------------------------------------------------------- chat

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

function showChat(course) {
  const chat = chatFor(course.id);
  document.title = `Ask · ${course.title} · ProfAI`;
  $("chat-log-slot").replaceChildren(chat.log);
  if (!chat.log.children.length) {
    chat.log.append(h("li", { class: "chat-empty muted" },
      "Ask anything about the course, for example “What is the main idea of the first lesson?”"));
  }
  setChatBusy(chat.busy);
}

function setChatBusy(busy) {
  $("chat-send").disabled = busy;
  $("chat-send").textContent = busy ? "Answering…" : "Ask";
}

function newConversation() {
  const chat = chatFor(state.course.id);
  if (chat.busy) return;
  chat.sessionId = null;
  chat.log.replaceChildren();
  showChat(state.course);
  $("chat-input").focus();
}

async function submitQuestion(event) {
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
        h("span", { class: "cite-ref" }, pagesLabel(s.file, s.page, s.page_end)),
        s.quote ? h("blockquote", {}, s.quote) : null))));
}

const socketUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/chat`;

/** The course's socket, opened on first use and reused, so follow-ups share one connection. */
function openSocket(chat) {
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

function chatKeydown(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("chat-form").requestSubmit();
  }
}

// ---------------------------------------------------------------------------------------- quiz

const quiz = { current: null };  // the quiz being taken: {quiz_id, questions, ...}

function resetQuiz() {
  quiz.current = null;
  $("quiz-questions").replaceChildren();
  show($("quiz-form"), false);
  show($("quiz-result"), false);
  show($("quiz-setup"));
  showError($("quiz-error"), "");
  $("quiz-status").textContent = "";
}

async function generateQuiz(event) {
  event.preventDefault();
  const count = Number($("quiz-count").value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_QUESTIONS) {
    showError($("quiz-error"), `Choose between 1 and ${MAX_QUESTIONS} questions.`);
    $("quiz-count").focus();
    return;
  }
  const body = { questions: count, difficulty: $("quiz-difficulty").value };
  if ($("quiz-module").value) body.module_id = Number($("quiz-module").value);
  const course = state.course;
  const button = $("quiz-generate");
  button.disabled = true;
  showError($("quiz-error"), "");
  $("quiz-status").textContent = "Writing the questions…";
  try {
    const data = await api(`/api/courses/${course.id}/quizzes`, { method: "POST", json: body });
    if (state.course !== course) return;
    takeQuiz(data);
  } catch (err) {
    $("quiz-status").textContent = "";
    showError($("quiz-error"), `Could not make a quiz: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

function takeQuiz(data) {
  quiz.current = data;
  show($("quiz-result"), false);
  showError($("quiz-error"), "");
  $("quiz-status").textContent = `${plural(data.questions.length, "question")}, ${data.difficulty}. Choose one answer each.`;
  $("quiz-questions").replaceChildren(...data.questions.map((q, i) =>
    h("li", { class: "question", "data-question": q.id },
      h("fieldset", {},
        h("legend", {}, h("span", { class: "q-number" }, `Question ${i + 1}. `), q.prompt),
        h("div", { class: "options" }, q.options.map((option, j) =>
          h("label", { class: "option" },
            h("input", { type: "radio", name: `q-${q.id}`, value: j }),
            h("span", {}, option))))),
      h("div", { class: "feedback", hidden: true }))));
  for (const b of ["quiz-retake", "quiz-another"]) show($(b), false);
  show($("quiz-submit"));
  $("quiz-submit").disabled = false;
  show($("quiz-form"));
  $("quiz-form").querySelector("input")?.focus();
}

async function submitQuiz(event) {
  event.preventDefault();
  const current = quiz.current;
  if (!current) return;
  const answers = {};
  const missing = [];
  current.questions.forEach((q, i) => {
    const chosen = $("quiz-form").querySelector(`input[name="q-${q.id}"]:checked`);
    if (chosen) answers[String(q.id)] = Number(chosen.value); else missing.push(i + 1);
  });
  if (missing.length) {
    showError($("quiz-error"), `Answer every question first (still open: ${missing.join(", ")}).`);
    $("quiz-form").querySelector(`[data-question="${current.questions[missing[0] - 1].id}"] input`)?.focus();
    return;
  }
  showError($("quiz-error"), "");
  $("quiz-submit").disabled = true;
  try {
    const result = await api(`/api/quizzes/${current.quiz_id}/attempts`, { method: "POST", json: { answers } });
    if (quiz.current === current) showResult(current, result);
  } catch (err) {
    showError($("quiz-error"), `Could not grade the quiz: ${err.message}`);
    $("quiz-submit").disabled = false;
  }
}

function showResult(current, result) {
  const byId = new Map(result.feedback.map((f) => [String(f.question_id), f]));
  for (const item of $("quiz-questions").children) {
    const f = byId.get(item.dataset.question);
    const q = current.questions.find((x) => String(x.id) === item.dataset.question);
    for (const input of item.querySelectorAll("input")) input.disabled = true;
    if (!f) continue;
    item.classList.add(f.correct ? "right" : "wrong");
    item.querySelectorAll(".option").forEach((label, j) => {
      label.classList.toggle("is-correct", j === f.correct_index);
      label.classList.toggle("is-wrong", j === f.chosen && !f.correct);
    });
    const source = f.source || q?.source;
    const box = item.querySelector(".feedback");
    box.replaceChildren(
      h("p", { class: f.correct ? "verdict ok" : "verdict bad" },
        f.correct ? "Correct." : `Not quite. The answer is: ${f.correct_option ?? q?.options[f.correct_index]}`),
      f.explanation ? h("p", {}, f.explanation) : null,
      source ? h("p", { class: "muted" }, `Source: ${pagesLabel(source.file, source.page, source.page_end)}`) : null);
    show(box);
  }
  $("quiz-score").textContent = `${result.score} / ${result.total}`;
  const pct = result.total ? Math.round((100 * result.score) / result.total) : 0;
  $("quiz-score-note").textContent = pct === 100 ? "All correct. Well done!"
    : `${pct}% correct. Read the explanations below and the pages they cite.`;
  $("quiz-status").textContent = "";
  show($("quiz-result"));
  show($("quiz-submit"), false);
  for (const b of ["quiz-retake", "quiz-another"]) show($(b));
  $("quiz-score-heading").focus();
}

// ---------------------------------------------------------------------------------------- start

function start() {
  $("upload-form").addEventListener("submit", submitUpload);
  $("nav-toggle").addEventListener("click", toggleNav);
  $("listen-button").addEventListener("click", listen);
  const audio = $("lesson-audio");
  for (const type of ["play", "pause", "ended"]) audio.addEventListener(type, syncListenButton);
  $("chat-form").addEventListener("submit", submitQuestion);
  $("chat-input").addEventListener("keydown", chatKeydown);
  $("chat-new").addEventListener("click", newConversation);
  $("quiz-setup").addEventListener("submit", generateQuiz);
  $("quiz-form").addEventListener("submit", submitQuiz);
  $("quiz-retake").addEventListener("click", () => takeQuiz(quiz.current));
  $("quiz-another").addEventListener("click", () => { resetQuiz(); $("quiz-count").focus(); });
  window.addEventListener("hashchange", () => render());
  resumeJob();
  render().finally(() => { state.firstRender = false; });
}

start();
