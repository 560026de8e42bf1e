// Search within the open course: lesson titles and text, over the course the page has loaded
// already (no request). Results are links with a snippet; the arrow keys move between them,
// Enter in the box opens the first, Escape closes the list.

import { $, h, show } from "./dom.js";
import { routes } from "./state.js";

const MAX_RESULTS = 20;
const SNIPPET_BEFORE = 50;
const SNIPPET_AFTER = 110;

const index = { course: null, lessons: [] };  // each lesson with its title and text lower-cased once
let timer = null;  // the search typed, run once typing pauses

export function initSearch() {
  const input = $("search-input");
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 120); });
  input.addEventListener("focus", () => { if (input.value.trim() && $("search-results").hidden) run(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") { event.preventDefault(); run(); results()[0]?.focus(); }
    if (event.key === "Escape" && input.value) { event.preventDefault(); input.value = ""; close(); }
    if (event.key === "Enter") {  // open the first lesson found
      event.preventDefault();
      run();
      results()[0]?.click();
    }
  });
  $("course-search").addEventListener("submit", (event) => event.preventDefault());
  $("search-results").addEventListener("keydown", moveBetween);
  $("search-results").addEventListener("click", (event) => { if (event.target.closest("a")) close(); });
}

/** A course was opened: search its lessons (each with its `moduleHeading`). */
export function searchCourse(course, lessons) {
  index.course = course;
  index.lessons = lessons.map((lesson) => ({
    lesson, title: lesson.title.toLowerCase(), text: (lesson.content || "").toLowerCase() }));
  $("search-input").value = "";
  close();
}

const results = () => [...$("search-results").querySelectorAll("a")];

function close() {
  clearTimeout(timer);
  $("search-results").replaceChildren();
  show($("search-results"), false);
  $("search-status").textContent = "";
}

function run() {
  clearTimeout(timer);
  const query = $("search-input").value.trim();
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length || !index.course) { close(); return; }
  const found = [];
  for (const entry of index.lessons) {
    if (!terms.every((t) => entry.title.includes(t) || entry.text.includes(t))) continue;
    found.push({ entry, inTitle: terms.every((t) => entry.title.includes(t)) });
  }
  found.sort((a, b) => Number(b.inTitle) - Number(a.inTitle));  // stable: course order within each
  const pattern = new RegExp(terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "giu");
  $("search-results").replaceChildren(...found.slice(0, MAX_RESULTS).map(({ entry }) => resultItem(entry.lesson, pattern)));
  show($("search-results"), found.length > 0);
  $("search-status").textContent = !found.length ? `No lesson matches “${query}”.`
    : `${found.length} lesson${found.length === 1 ? "" : "s"} match${found.length === 1 ? "es" : ""}${
      found.length > MAX_RESULTS ? `; the first ${MAX_RESULTS} are listed` : ""}. Arrow down to choose.`;
}

function resultItem(lesson, pattern) {
  return h("li", {}, h("a", { href: routes.lesson(index.course.id, lesson.id), "data-lesson": lesson.id },
    h("span", { class: "search-title" }, marked(lesson.title, pattern)),
    h("span", { class: "search-where" }, lesson.moduleHeading),
    h("span", { class: "search-snippet" }, marked(snippet(lesson.content || "", pattern), pattern))));
}

/** The words around the first match in the text (its start when only the title matched). */
function snippet(text, pattern) {
  pattern.lastIndex = 0;
  const at = pattern.exec(text)?.index ?? 0;
  pattern.lastIndex = 0;  // matchAll() would start where exec() stopped
  let start = Math.max(0, at - SNIPPET_BEFORE);
  if (start > 0) start = text.indexOf(" ", start) + 1 || start;
  const end = Math.min(text.length, at + SNIPPET_AFTER);
  const cut = end < text.length ? text.lastIndexOf(" ", end) : end;
  const body = text.slice(start, cut > at ? cut : end).replace(/\s+/g, " ").trim();
  return `${start > 0 ? "…" : ""}${body}${end < text.length ? "…" : ""}`;
}

/** Text runs with each match in <mark>. */
function marked(text, pattern) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function moveBetween(event) {
  const links = results();
  const i = links.indexOf(document.activeElement);
  if (i < 0) return;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    const next = i + (event.key === "ArrowDown" ? 1 : -1);
    (next < 0 ? $("search-input") : links[Math.min(next, links.length - 1)]).focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    $("search-input").focus();
  }
}
