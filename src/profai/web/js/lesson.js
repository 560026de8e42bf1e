// One course: its outline in the sidebar, the panel the route asks for, a lesson and its Listen button.

import { api, fetchBlob, sleep } from "./api.js";
import { refreshAsk, showChat } from "./chat.js";
import { loadClass, resetClass, showJoinCode } from "./classroom.js";
import { searchCourse } from "./course_search.js";
import { $, h, show, showError } from "./dom.js";
import { lessonBlocks, moduleHeadings, pagesLabel, plural, printedPage } from "./format.js";
import { courseTabs, markCurrent, offerResume, openNav, rememberLesson } from "./navigation.js";
import { showProgress } from "./progress.js";
import { resetQuiz } from "./quiz.js";
import { pageButton, sourceButton } from "./source_view.js";
import { focusHeading, routes, state } from "./state.js";

// ---------------------------------------------------------------------------------- course view

let courseLessons = [];  // the open course's lessons in order, each with its module and heading (fillCourse)

let early = null;  // {courseId, course: Promise}: asked for before who is signed in was known

/** On the first load of a course's address, ask for the course while the app checks who is signed
 * in, rather than after; openCourse takes the answer, or asks again if it was refused. */
export function prefetchCourse(courseId) {
  early = { courseId, course: api(`/api/courses/${courseId}`, { signIn: false }) };
  early.course.catch(() => {});  // a refusal is openCourse's to report
}

export async function openCourse(courseId, seq) {
  resetCourseView();
  $("course-heading").textContent = "Loading course…";
  const asked = early?.courseId === courseId ? early.course : null;
  early = null;
  try {
    const load = () => api(`/api/courses/${courseId}`);
    const course = await (asked ? asked.catch(load) : load());
    if (seq !== state.seq) return false;
    state.course = course;
    fillCourse(course);
    if (!course.search_ready) watchIndexing(course);
    return true;
  } catch (err) {
    if (seq !== state.seq) return false;
    $("course-heading").textContent = err.status === 404 ? "Course not found" : "Could not open the course";
    showError($("course-error"), err.message);
    show($("course-body"), false);
    return false;
  }
}

const INDEX_POLL_MS = 3000;

/** A course is readable before its passages are indexed for chat: say so, and ask again until
 * they are, for as long as this course stays open (whichever of its panels is shown). */
async function watchIndexing(course) {
  showIndexing(true);
  while (state.course === course) {
    await sleep(INDEX_POLL_MS);
    if (state.course !== course) return;
    try {
      const fresh = await api(`/api/courses/${course.id}`);
      if (state.course === course && fresh.search_ready) {
        course.search_ready = true;
        showIndexing(false);
        return;
      }
    } catch {
      // A dropped poll is retried; a course deleted meanwhile shows up when it is opened again.
    }
  }
}

function showIndexing(indexing) {
  show($("chat-indexing"), indexing);
  refreshAsk();
}

function resetCourseView() {
  state.course = null;
  courseLessons = [];
  stopAudio();
  showError($("course-error"), "");
  show($("course-body"));
  $("course-files-list").textContent = "";
  $("module-list").replaceChildren();
  show($("course-code"), false);
  show($("nav-class-item"), false);
  show($("resume"), false);
  showIndexing(false);
  resetQuiz();
  resetClass();
}

function fillCourse(course) {
  document.title = `${course.title} · ProfAI`;
  $("course-heading").textContent = course.title;
  $("course-files-list").textContent = course.source_files?.length
    ? `From ${course.source_files.map((f) => `${f.filename} (${plural(f.pages, "page")}${
      f.ocr_pages?.length ? `, ${f.ocr_pages.length} read by OCR` : ""})`).join(", ")}`
    : "";
  const headings = fileHeadings(course.modules);
  // A course made of several PDFs shows each file's name above its first module. Each module
  // folds away (open at first: the reader closes what they do not need).
  const grouped = (course.source_files?.length || 0) > 1;
  $("module-list").replaceChildren(...course.modules.map((m, i) =>
    h("li", { class: "module" },
      grouped && m.source_file && m.source_file !== course.modules[i - 1]?.source_file
        ? h("span", { class: "file-group" }, m.source_file) : null,
      h("details", { class: "module-fold", open: true },
        h("summary", { class: "module-title" }, headings[i]),
        h("ol", { class: "lessons" }, m.lessons.map((l) =>
          h("li", {}, h("a", { href: routes.lesson(course.id, l.id), "data-lesson": l.id }, l.title))))))));
  courseTabs(course);
  courseLessons = allLessons(course);
  searchCourse(course, courseLessons);
  showJoinCode(course);
  $("quiz-module").replaceChildren(h("option", { value: "" }, "The whole course"),
    ...course.modules.map((m) => h("option", { value: m.id }, m.title)));
}

/** Module headings numbered within each file, in upload order: every PDF keeps its own numbering. */
function fileHeadings(modules, format) {
  const out = [];
  for (let i = 0; i < modules.length;) {
    let j = i + 1;
    while (j < modules.length && modules[j].source_file === modules[i].source_file) j += 1;
    out.push(...moduleHeadings(modules.slice(i, j), format));
    i = j;
  }
  return out;
}

function allLessons(course) {
  const headings = fileHeadings(course.modules, (n, t) => `Module ${n} · ${t}`);
  return course.modules.flatMap((m, i) => m.lessons.map((l) => ({ ...l, module: m, moduleHeading: headings[i] })));
}

export function showPanel(route) {
  const course = state.course;
  const panels = { lesson: $("lesson-panel"), chat: $("chat-panel"), quiz: $("quiz-panel"), class: $("class-panel"),
                   progress: $("progress-panel") };
  for (const [name, el] of Object.entries(panels)) show(el, name === route.panel);
  openNav(false);
  show($("resume"), false);

  let lessonId = null;  // the lesson marked in the outline
  if (route.panel === "lesson") {
    const index = route.lessonId == null ? 0 : courseLessons.findIndex((l) => l.id === route.lessonId);
    if (!courseLessons.length || index < 0) {
      show(panels.lesson, false);
      showError($("course-error"), courseLessons.length ? "That lesson is not part of this course." : "This course has no lessons yet.");
    } else {
      showError($("course-error"), "");
      showLesson(course, courseLessons, index);
      focusHeading(route.lessonId == null ? $("course-heading") : $("lesson-title"));
      if (route.lessonId != null) rememberLesson(course, route.lessonId);
      offerResume(course, courseLessons, route.lessonId == null);
      lessonId = courseLessons[index].id;
    }
  } else if (route.panel === "chat") {
    stopAudio();
    showChat(course);
    focusHeading($("chat-heading"));
  } else if (route.panel === "class") {
    stopAudio();
    showError($("course-error"), "");
    loadClass(course);
    focusHeading($("class-heading"));
  } else if (route.panel === "progress") {
    stopAudio();
    showProgress(course);
    focusHeading($("progress-heading"));
  } else {
    stopAudio();
    document.title = `Quiz · ${course.title} · ProfAI`;
    focusHeading($("quiz-heading"));
  }
  markCurrent(route.panel, lessonId);  // after the focus has scrolled the page, so the outline can follow
}

// -------------------------------------------------------------------------------------- lesson

function showLesson(course, lessons, index) {
  const lesson = lessons[index];
  if ($("lesson-panel").dataset.lesson !== String(lesson.id)) stopAudio();
  $("lesson-panel").dataset.lesson = lesson.id;
  document.title = `${lesson.title} · ${course.title} · ProfAI`;
  $("lesson-module").textContent = lesson.moduleHeading;
  $("lesson-title").textContent = lesson.title;
  $("lesson-source").replaceChildren(sourceButton(lesson.source_file, lesson.page_start,
    pagesLabel(lesson.source_file, lesson.page_start, lesson.page_end, course), { text: () => lesson.content || "" }));
  $("lesson-summary").textContent = lesson.summary || "No summary for this lesson.";
  $("lesson-terms").replaceChildren(...(lesson.key_terms || []).map((t) => h("li", {}, t)));
  show($("terms-section"), Boolean(lesson.key_terms?.length));
  const blocks = lessonBlocks(lesson);
  $("lesson-content").replaceChildren(...(blocks.length ? blocks.flatMap((b) => showBlock(course, lesson, b))
    : [h("p", {}, "This lesson has no text.")]));

  const prev = lessons[index - 1];
  const next = lessons[index + 1];
  pagerLink($("prev-lesson"), prev && routes.lesson(course.id, prev.id), prev && `← ${prev.title}`);
  pagerLink($("next-lesson"), next && routes.lesson(course.id, next.id), next && `${next.title} →`);
}

const BULLET = /^[•◦▪‣∙●○■□➢►✓·*–-]\s+/;
const NUMBERED = /^\(?(\d{1,2})[.)]\s+/;

/** One block of a lesson as elements: code in a monospace block that keeps every space (focusable,
 * so a keyboard can scroll a wide listing), lists as lists, headings below the lesson's own. */
function showBlock(course, lesson, block) {
  const mark = (page) => pageBreak(course, lesson.source_file, page);
  const before = block.pagesBefore.map((page) => h("p", { class: "page-line" }, mark(page)));
  const runs = block.parts.map((part) => (typeof part === "number" ? mark(part) : part));
  if (block.kind === "code") {
    return [...before, h("pre", { class: "code", tabindex: "0", "aria-label": "Code" }, h("code", {}, block.text))];
  }
  if (block.kind === "heading") return [...before, h(block.level <= 2 ? "h4" : "h5", { class: "block-heading" }, block.text)];
  if (block.kind === "list") {
    const items = block.text.split("\n");
    const first = NUMBERED.exec(items[0]);
    const tag = first && items.every((item) => NUMBERED.test(item)) ? "ol" : "ul";
    return [...before, h(tag, tag === "ol" ? { start: first[1] } : {},
      items.map((item) => h("li", {}, item.replace(tag === "ol" ? NUMBERED : BULLET, ""))))];
  }
  if (block.kind === "quote") return [...before, h("blockquote", { class: "quote" }, h("p", {}, runs))];
  return [...before, h("p", block.kind === "caption" ? { class: "caption" } : {}, runs)];
}

// Where a page of the source begins, as printed books mark it in an ebook: with the number printed
// on that page where the PDF shows one.
function pageBreak(course, file, page) {
  const printed = printedPage(course, file, page);
  return h("span", { class: "page-mark", role: "doc-pagebreak", "aria-label": `Page ${printed}`,
                     title: `${file}, page ${printed} begins here` }, pageButton(file, page, `p. ${printed}`));
}

function pagerLink(a, href, label) {
  show(a, Boolean(href));
  if (href) { a.href = href; a.textContent = label; }
}

// --------------------------------------------------------------------------------------- audio

const audioState = { url: null, lessonKey: null, loading: null };

export function stopAudio() {
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

export async function listen() {
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
    const blob = await fetchBlob(`/api/courses/${course.id}/lessons/${lessonId}/audio`);
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

export function syncListenButton() {
  $("listen-button").textContent = $("lesson-audio").paused ? "Listen" : "Pause";
}
