// See the source: the PDF page that a citation [n], a lesson's "Source" line or a "p. N" mark names,
// drawn by the server, beside the text (a split view on a desktop, a bottom sheet on a phone), with
// the cited passage highlighted over the image. Lessons and chat call the *Button functions below;
// the panel itself is built here, on first use, so index.html needs no markup for it.

import { api } from "./api.js";
import { h } from "./dom.js";
import { printedPage } from "./format.js";
import { parseRoute, state } from "./state.js";

const MIN_WIDTH = 200;
const MAX_WIDTH = 1600;
const STEP = 100;  // the server draws widths in steps of 100 (and caches each)
const FIND_CHARS = 300;  // the first words of a passage locate it; the server takes at most 500

const view = {
  el: null, parts: null, courseId: null, file: null, fileIndex: -1, pages: 0, page: 1,
  text: "", textPages: [], returnFocus: null, seq: 0,
};

/** The index of `file` in the course's source_files (the API numbers files by it), or -1. */
function fileIndex(course, file) {
  return (course?.source_files || []).findIndex((f) => f.filename === file);
}

/** Whether `file` of the open course has pages the panel can show. */
function canShow(file, page) {
  const i = fileIndex(state.course, file);
  return i >= 0 && Number.isInteger(page) && page >= 1;
}

/** A button that opens `page` of `file` with `text(button)` (asked on click) highlighted, where
 * it begins on that page or a later one up to `lastPage`; plain text when the course does not list
 * the file. */
export function sourceButton(file, page, label, { text = () => "", lastPage = page, attrs = {} } = {}) {
  if (!canShow(file, page)) return document.createTextNode(label);
  if (!view.el) build();  // aria-controls must name an element that exists
  return h("button", {
    type: "button", class: "source-link", "aria-controls": "source-view", ...attrs,
    onclick: (event) => {
      const from = event.currentTarget;
      openSource({ file, page, lastPage, text: text(from), from });
    },
  }, label);
}

/** A lesson's "p. N" mark as a button: opens that page with the text that follows the mark in the
 * lesson (what begins there) highlighted. */
export function pageButton(file, page, label) {
  return sourceButton(file, page, label, { text: (button) => followingText(button.closest(".page-mark") || button) });
}

/** A chat citation's label as a button opening the page it cites, its quote highlighted. */
export function citeButton(source, label) {
  if (!canShow(source.file, source.page)) return h("span", { class: "cite-ref" }, label);
  return sourceButton(source.file, source.page, label, {
    text: () => source.quote || "", lastPage: source.page_end || source.page,
    attrs: { class: "source-link cite-ref", "data-number": source.number },
  });
}

/** Turn the [n] markers of an answer's text into buttons that open source n (as its citation does). */
export function linkMarkers(answer) {
  const text = answer.querySelector(".answer-text");
  if (!text) return;
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const pieces = node.data.split(/(\[\d+(?:\s*,\s*\d+)*\])/);
    if (pieces.length === 1) continue;
    node.replaceWith(...pieces.map((piece, i) => (i % 2 ? marker(answer, piece) : piece)));
  }
}

function marker(answer, piece) {
  const numbers = piece.slice(1, -1).split(",").map((n) => n.trim());
  const parts = numbers.flatMap((n, i) => {
    const cite = answer.querySelector(`.cite-ref[data-number="${n}"]`);
    const el = cite ? h("button", { type: "button", class: "cite-marker", "aria-label": `Source ${n}`,
                                    onclick: () => cite.click() }, n) : n;
    return i ? [", ", el] : [el];
  });
  return h("span", { class: "cite-markers" }, "[", parts, "]");
}

// ------------------------------------------------------------------------------------ the panel

function build() {
  const title = h("h2", { id: "source-title", tabindex: "-1" }, "Source");
  const where = h("p", { class: "source-where" });
  const prev = h("button", { type: "button", class: "subtle", onclick: () => turn(-1) }, "← Previous page");
  const next = h("button", { type: "button", class: "subtle", onclick: () => turn(1) }, "Next page →");
  const download = h("a", { class: "source-download", download: "" }, "Download PDF");
  const status = h("p", { class: "source-status muted", role: "status" });
  const img = h("img", { class: "source-image", alt: "", decoding: "async" });
  const marks = h("div", { class: "source-marks", "aria-hidden": "true" });
  img.addEventListener("load", () => {
    if (img.dataset.seq !== String(view.seq)) return;
    status.textContent = "";
    reveal();
  });
  img.addEventListener("error", () => { if (img.dataset.seq === String(view.seq)) explainFailure(); });
  view.parts = { title, where, prev, next, download, status, img, marks };
  view.el = h("aside", { id: "source-view", class: "source-view", "aria-labelledby": "source-title", hidden: true,
                         onkeydown: (event) => { if (event.key === "Escape") { event.preventDefault(); closeSource(); } } },
    h("div", { class: "source-head" }, title,
      h("button", { type: "button", class: "subtle source-close", "aria-label": "Close the source page",
                    onclick: closeSource }, "Close")),
    where,
    h("div", { class: "source-tools" }, prev, next, download),
    status,
    h("div", { class: "source-page" }, img, marks));
  document.body.append(view.el);
  // The panel belongs to the course view: when that is hidden (signed out, another screen), it closes.
  const course = document.getElementById("view-course");
  if (course) new MutationObserver(() => { if (course.hidden) closeSource(); }).observe(course, { attributes: true, attributeFilter: ["hidden"] });
  return view.el;
}

/** Open the panel on `page` of `file` of the open course, highlighting `text` (on that page, or on
 * the next ones up to `lastPage`, where a passage runs over). */
export function openSource({ file, page, lastPage, text = "", from = null }) {
  const course = state.course;
  const index = fileIndex(course, file);
  if (index < 0) return;
  const el = view.el || build();
  const pages = course.source_files[index].pages || page;
  Object.assign(view, {
    courseId: course.id, file, fileIndex: index, pages,
    text: (text || "").replace(/\s+/g, " ").trim().slice(0, FIND_CHARS),
    textPages: range(page, Math.min(lastPage || page, pages)),
  });
  if (!el.hidden && view.returnFocus?.isConnected) {
    // Already open: focus goes back, when it closes, to where it was before the first opening.
  } else {
    view.returnFocus = from || document.activeElement;
  }
  el.hidden = false;
  document.body.classList.add("source-open");
  view.parts.download.href = `${base()}/pdf`;
  view.parts.download.setAttribute("download", file);
  show(Math.min(Math.max(page, 1), pages));
  view.parts.title.focus();
}

export function closeSource() {
  if (!view.el || view.el.hidden) return;
  view.el.hidden = true;
  document.body.classList.remove("source-open");
  view.seq += 1;  // a page or highlight still loading is dropped
  const back = view.returnFocus;
  view.returnFocus = null;
  if (back?.isConnected) back.focus();
}

const base = () => `/api/courses/${view.courseId}/files/${view.fileIndex}`;
const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

function turn(delta) {
  const page = view.page + delta;
  if (page >= 1 && page <= view.pages) show(page);
}

/** Show `page`; `found` is its highlight when already looked up, else it is looked up here. */
function show(page, { found = null } = {}) {
  const { title, where, prev, next, status, img, marks } = view.parts;
  const seq = ++view.seq;
  view.page = page;
  const printed = printedPage(state.course, view.file, page);
  title.textContent = `${view.file}, p. ${printed}`;
  where.textContent = `Page ${page} of ${view.pages}${printed !== String(page) ? ` (printed ${printed})` : ""}`;
  prev.disabled = page <= 1;
  next.disabled = page >= view.pages;
  status.textContent = "Loading the page…";
  marks.replaceChildren();
  img.dataset.seq = String(seq);
  img.alt = `Page ${page} of ${view.file}`;
  img.src = `${base()}/pages/${page}.png?width=${imageWidth()}`;
  if (found) drawMarks(found.boxes);
  else if (view.text && view.textPages.includes(page)) highlight(seq, page);
}

/** The width to ask for: the panel's, in device pixels, rounded up to the server's steps. */
function imageWidth() {
  const css = view.parts.img.parentElement.clientWidth || 600;
  const px = Math.ceil((css * (window.devicePixelRatio || 1)) / STEP) * STEP;
  return Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, px));
}

async function highlight(seq, page) {
  const found = await findOn(page);
  if (seq !== view.seq) return;
  if (found?.boxes?.length) { drawMarks(found.boxes); return; }
  // A passage that begins near the end of a page may be quoted from the next: look there too.
  for (const later of view.textPages.filter((p) => p > page)) {
    const there = await findOn(later);
    if (seq !== view.seq) return;
    if (there?.boxes?.length) { show(later, { found: there }); return; }
  }
}

function drawMarks(boxes) {
  view.parts.marks.replaceChildren(...boxes.map(box));
  reveal();
}

async function findOn(page) {
  try {
    return await api(`${base()}/pages/${page}/find?text=${encodeURIComponent(view.text)}`);
  } catch {
    return null;  // the page still shows; only its highlight is missing
  }
}

/** Scroll the panel (not the page behind it) so the highlight shows, once the image has its size. */
function reveal() {
  const { img, marks } = view.parts;
  const first = marks.firstChild;
  if (!first || !img.complete || !img.clientHeight) return;
  const top = img.parentElement.offsetTop + (parseFloat(first.style.top) / 100) * img.clientHeight;
  view.el.scrollTop = Math.max(0, top - view.el.clientHeight / 3);
}

function box({ x, y, w, h: height }) {
  const el = h("span", { class: "source-mark" });
  // CSSOM, not a style attribute: the page's CSP allows no inline styles.
  el.style.left = `${x * 100}%`;
  el.style.top = `${y * 100}%`;
  el.style.width = `${w * 100}%`;
  el.style.height = `${height * 100}%`;
  return el;
}

/** Why the image did not load, in the server's words (the image request cannot say). */
async function explainFailure() {
  const seq = view.seq;
  let message = "This page could not be shown.";
  try {
    await api(`${base()}/pages/${view.page}/find`);
  } catch (err) {
    message = `This page could not be shown: ${err.message}`;
  }
  if (seq === view.seq) view.parts.status.textContent = message;
}

/** The text that follows `mark` in the lesson (what begins on its page), as one line. */
function followingText(mark) {
  const content = mark.closest("#lesson-content") || mark.parentElement;
  const after = document.createRange();
  after.setStartAfter(mark);
  after.setEndAfter(content.lastChild || content);
  return after.toString().replace(/\s+/g, " ").trim().slice(0, FIND_CHARS);
}

// Opening another course closes the panel; moving within the course keeps it open.
window.addEventListener("hashchange", () => {
  const route = parseRoute();
  if (route.view !== "course" || route.courseId !== view.courseId) closeSource();
});
