// Finding one's way in a course: the tabs of the course head, the skip links, the outline kept on
// the current lesson (its module open, the lesson in view), and "Resume" where the reader left off
// (the last lesson opened, remembered per person and course in localStorage).

import { $, show } from "./dom.js";
import { routes, state } from "./state.js";

const TABS = { lesson: "tab-lessons", chat: "nav-chat", quiz: "nav-quiz", progress: "nav-progress", class: "nav-class" };

/** Once, at start: the skip links and the outline's Contents toggle (phones). */
export function initNavigation() {
  $("skip-content").addEventListener("click", skipToContent);
  $("skip-outline").addEventListener("click", skipToOutline);
  $("nav-toggle").addEventListener("click", () => openNav($("nav-toggle").getAttribute("aria-expanded") !== "true"));
}

/** The tabs of a course just opened. */
export function courseTabs(course) {
  const last = lastLesson(course);
  $("tab-lessons").href = last ? routes.lesson(course.id, last) : routes.course(course.id);
  $("nav-chat").href = routes.chat(course.id);
  $("nav-quiz").href = routes.quiz(course.id);
  $("nav-progress").href = routes.progress(course.id);  // Class: classroom.js, for the course's teacher
}

/** Mark the tab of the panel shown, and the lesson in the outline (none for another panel). */
export function markCurrent(panel, lessonId = null) {
  for (const [name, id] of Object.entries(TABS)) {
    if (name === panel) $(id).setAttribute("aria-current", "page"); else $(id).removeAttribute("aria-current");
  }
  for (const a of $("module-list").querySelectorAll("a[aria-current]")) a.removeAttribute("aria-current");
  const link = lessonId == null ? null : $("module-list").querySelector(`a[data-lesson="${lessonId}"]`);
  if (!link) return;
  link.setAttribute("aria-current", "page");
  const module = link.closest("details");
  if (module) module.open = true;
  scrollOutline();
}

/** Scroll the outline (not the page) so that the current lesson sits in its visible part. */
function scrollOutline() {
  const nav = $("course-nav");
  const link = nav.querySelector("#module-list a[aria-current]");
  if (!link || !link.offsetParent || nav.scrollHeight <= nav.clientHeight) return;  // hidden, or nothing to scroll
  const box = nav.getBoundingClientRect();
  const top = Math.max(box.top, 0);
  const bottom = Math.min(box.bottom, window.innerHeight);
  const at = link.getBoundingClientRect();
  if (at.top >= top && at.bottom <= bottom) return;
  nav.scrollTop += at.top - top - Math.max(0, (bottom - top) / 3);
  // The outline's end can lie below the window while the page is at its top: scroll the page just
  // enough (at most until the outline sticks to the top) for the lesson to show.
  const below = link.getBoundingClientRect().bottom - window.innerHeight;
  if (below > 0) window.scrollBy(0, Math.min(below + 16, Math.max(0, nav.getBoundingClientRect().top - 16)));
}

/** Phones: the outline is behind the Contents toggle. */
export function openNav(open) {
  $("nav-toggle").setAttribute("aria-expanded", String(open));
  $("course-nav").classList.toggle("open", open);
}

// ----------------------------------------------------------------------------------- skip links

function skipToContent(event) {
  event.preventDefault();  // the hash is the route: "#main" would leave the course
  const panel = $("view-course").hidden ? null
    : [...document.querySelectorAll("#view-course .panel")].find((p) => !p.hidden);
  (panel?.querySelector("[tabindex='-1']") || $("main")).focus();
}

function skipToOutline(event) {
  event.preventDefault();
  if ($("view-course").hidden || $("course-body").hidden) { $("main").focus(); return; }
  if (getComputedStyle($("nav-toggle")).display !== "none") openNav(true);
  const list = $("module-list");
  const target = list.querySelector("a[aria-current]") || list.querySelector("summary, a");
  (target || $("course-nav")).focus();
  scrollOutline();
}

// --------------------------------------------------------------------------------------- resume

const lastKey = (course) => `profai.lastLesson.${state.me?.user?.id ?? "key"}.${course.id}`;

function lastLesson(course) {
  try {
    return Number(localStorage.getItem(lastKey(course))) || null;
  } catch {
    return null;  // storage refused (private mode): nothing to resume
  }
}

/** The reader opened this lesson: remember it, and let the Lessons tab come back to it. */
export function rememberLesson(course, lessonId) {
  try { localStorage.setItem(lastKey(course), String(lessonId)); } catch { /* not remembered */ }
  $("tab-lessons").href = routes.lesson(course.id, lessonId);
}

/** On the course's start, "Resume: <lesson>" when another lesson than the first was read last. */
export function offerResume(course, lessons, atStart) {
  const id = atStart ? lastLesson(course) : null;
  const lesson = id && id !== lessons[0]?.id ? lessons.find((l) => l.id === id) : null;
  show($("resume"), Boolean(lesson));
  if (!lesson) return;
  $("resume-link").href = routes.lesson(course.id, lesson.id);
  $("resume-title").textContent = lesson.title;
}
