// Text shown to the reader, built the same way wherever it appears.

/** "biology.pdf, pages 3-5" (or "page 3" when the range is one page). */
export function pagesLabel(file, start, end) {
  const pages = !end || end === start ? `page ${start}` : `pages ${start}-${end}`;
  return file ? `${file}, ${pages}` : pages;
}

// Stands where a page begins while the text is split; no PDF text holds a NUL.
const PAGE = "\u0000";
const PAGE_RE = new RegExp(`${PAGE}(\\d+)${PAGE}`);

/** The lesson's paragraphs, each a list of text runs and page numbers: a number stands where that
 * page of the source begins. `pageMarks` ([offset, page], ...) count code points, as Python does,
 * hence Array.from rather than string indexes. The first page is in the lesson's heading. */
export function lessonParagraphs(content, pageMarks = []) {
  const chars = Array.from(content || "");
  for (const [at, page] of pageMarks.slice(1).reverse()) chars.splice(at, 0, `${PAGE}${page}${PAGE}`);
  const blocks = chars.join("").split(/\n\s*\n/).map((p) => p.replace(/\s*\n\s*/g, " ").trim()).filter(Boolean);
  if (!blocks.length) return [["This lesson has no text."]];
  return blocks.map((block) => block.split(PAGE_RE).map((part, i) => (i % 2 ? Number(part) : part)).filter((p) => p !== ""));
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Outline titles often carry their own number ("2 Simple manipulations", "A A sample session").
const OWN_NUMBER = /^(?:\d+(?:\.\d+)*\.?|[A-Z])\s+\S/;

/** Module headings, "3. Cells", or the titles alone when the outline numbers its chapters itself:
 * positions beside those numbers would contradict them. */
export function moduleHeadings(modules, format = (n, t) => `${n}. ${t}`) {
  const ownNumbers = modules.some((m) => OWN_NUMBER.test(m.title));
  return modules.map((m, i) => (ownNumbers ? m.title : format(i + 1, m.title)));
}

const day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const dayTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** "12 May 2025" (or with the time); "" for no date. The server's times are UTC ISO strings. */
export function dateLabel(iso, withTime = false) {
  if (!iso) return "";
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(date.getTime()) ? "" : (withTime ? dayTime : day).format(date);
}

export const ROLE_NAMES = { admin: "Admin", teacher: "Teacher", student: "Student" };
