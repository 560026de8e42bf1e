// Progress: lessons marked done (the lesson's "Mark as done" button, a tick in the contents) and
// the Progress panel: lessons done, and quiz scores over time per module with a chart. The lesson
// view is watched (its data-lesson attribute, the contents list) rather than called into, so
// lesson.js needs to know nothing of progress.

import { api } from "./api.js";
import { $, h, show, showError } from "./dom.js";
import { dateLabel, plural } from "./format.js";
import { scoreChart } from "./score_chart.js";
import { routes, state } from "./state.js";

const mine = { courseId: null, done: new Map(), loading: null };  // lesson id -> done_at

export function initProgress() {
  $("lesson-done").addEventListener("click", toggleDone);
  new MutationObserver(() => syncLesson()).observe($("lesson-panel"), { attributeFilter: ["data-lesson"] });
  new MutationObserver(() => markContents()).observe($("module-list"), { childList: true });
}

/** The open course's done lessons, fetched once per course (marking updates them locally). */
async function load(course) {
  if (mine.courseId === course.id) return mine.loading;
  Object.assign(mine, { courseId: course.id, done: new Map() });
  mine.loading = api(`/api/courses/${course.id}/progress`).then((p) => {
    if (mine.courseId === course.id) mine.done = new Map(p.lessons_done.map((d) => [d.lesson_id, d.done_at]));
    return p;
  }).catch(() => null);  // no marks shown; the Progress panel says what went wrong
  return mine.loading;
}

async function syncLesson() {
  const course = state.course;
  if (!course) return;
  await load(course);
  if (state.course !== course) return;
  const id = Number($("lesson-panel").dataset.lesson);
  const at = mine.done.get(id);
  $("lesson-done").setAttribute("aria-pressed", String(Boolean(at)));
  $("lesson-done-status").textContent = at ? `Done ${dateLabel(at)}` : "";
  markContents();
}

function markContents() {
  for (const a of document.querySelectorAll("#module-list a[data-lesson]")) {
    const done = mine.courseId === state.course?.id && mine.done.has(Number(a.dataset.lesson));
    a.classList.toggle("done", done);
    if (done) a.setAttribute("data-done", ""); else a.removeAttribute("data-done");
  }
  if (state.course && mine.courseId !== state.course.id) load(state.course).then(() => markContents());
}

async function toggleDone() {
  const course = state.course;
  const id = Number($("lesson-panel").dataset.lesson);
  const button = $("lesson-done");
  const done = button.getAttribute("aria-pressed") !== "true";
  button.disabled = true;
  try {
    const path = `/api/lessons/${id}/done`;
    if (done) mine.done.set(id, (await api(path, { method: "PUT" })).done_at);
    else { await api(path, { method: "DELETE" }); mine.done.delete(id); }
    if (state.course === course) syncLesson();
  } catch (err) {
    $("lesson-done-status").textContent = `Could not save: ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

// --------------------------------------------------------------------------- the Progress panel

export async function showProgress(course) {
  document.title = `Progress · ${course.title} · ProfAI`;
  showError($("progress-error"), "");
  $("progress-status").textContent = "Loading your progress…";
  mine.courseId = null;  // fetched afresh: quizzes may have been taken since
  const p = await load(course);
  if (state.course !== course) return;
  if (!p) {
    $("progress-status").textContent = "";
    showError($("progress-error"), "Could not load your progress. Try again in a moment.");
    return;
  }
  const lessons = course.modules.flatMap((m) => m.lessons);
  const done = lessons.filter((l) => mine.done.has(l.id));
  $("progress-status").textContent = `${done.length} of ${plural(p.lessons_total, "lesson")} done.`;
  $("progress-lessons-bar").max = Math.max(1, p.lessons_total);
  $("progress-lessons-bar").value = done.length;
  $("progress-lessons").replaceChildren(...done.map((l) =>
    h("li", {}, h("a", { href: routes.lesson(course.id, l.id) }, l.title),
      h("span", { class: "muted" }, ` · ${dateLabel(mine.done.get(l.id))}`))));
  $("progress-quizzes").replaceChildren(...p.quizzes.map(moduleHistory));
  show($("progress-no-quizzes"), !p.quizzes.length);
  markContents();
}

function moduleHistory(group) {
  const right = (a) => `${a.score} / ${a.total}`;
  const when = (a) => dateLabel(a.created_at, true);
  return h("section", { class: "quiz-history", "data-module": group.module_id ?? "course" },
    h("h4", {}, group.title),
    scoreChart(group.attempts, (a) => `${when(a)}: ${right(a)}`),
    h("table", { class: "results-table" },
      h("caption", { class: "visually-hidden" }, `Quiz attempts on ${group.title}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Difficulty"),
        h("th", { scope: "col" }, "Score"))),
      h("tbody", {}, group.attempts.slice().reverse().map((a) => h("tr", { "data-attempt": a.attempt_id },
        h("td", { class: "muted" }, when(a)), h("td", {}, a.difficulty), h("td", { class: "score-cell" }, right(a)))))));
}
