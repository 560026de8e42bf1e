// Text shown to the reader, built the same way wherever it appears.

/** "biology.pdf, pages 3-5" (or "page 3" when the range is one page); with `course`, the numbers
 * printed on those pages where the PDF shows them: "R-intro.pdf, pp. 24-26". */
export function pagesLabel(file, start, end, course = null) {
  const [from, to] = [printedPage(course, file, start), end ? printedPage(course, file, end) : null];
  const printed = from !== String(start);
  const pages = !to || to === from ? `${printed ? "p." : "page"} ${from}` : `${printed ? "pp." : "pages"} ${from}-${to}`;
  return file ? `${file}, ${pages}` : pages;
}

/** The number printed on page `page` (the PDF's own index) of `file`, or the index itself. */
export function printedPage(course, file, page) {
  const source = course?.source_files?.find((f) => f.filename === file);
  return source?.page_labels?.[page - 1] || String(page);
}

/** The lesson as blocks to show: {kind, level, parts, pagesBefore}. A paragraph's, quote's or caption's
 * parts are text runs and page numbers (a number stands where that page begins); a page that begins
 * inside a listing, list or heading is marked just before it (`pagesBefore`). Offsets count code
 * points, as Python does. The first page is in the lesson's heading. */
export function lessonBlocks(lesson) {
  const blocks = lesson.blocks?.length ? lesson.blocks : [{ kind: "paragraph", text: lesson.content || "", level: 0 }];
  const marks = (lesson.page_marks || []).slice(1);
  let start = 0;
  const out = [];
  for (const block of blocks) {
    const chars = Array.from(block.text);
    const end = start + chars.length;
    const inside = marks.filter(([at]) => at >= start && at < end + 2);
    const entry = { kind: block.kind, level: block.level || 0, text: block.text, parts: [block.text], pagesBefore: [] };
    if (block.kind === "paragraph" || block.kind === "quote" || block.kind === "caption") {
      const parts = [];
      let cut = 0;
      for (const [at, page] of inside) {
        const rel = Math.min(at - start, chars.length);
        if (rel > cut) parts.push(chars.slice(cut, rel).join(""));
        parts.push(page);
        cut = rel;
      }
      if (cut < chars.length) parts.push(chars.slice(cut).join(""));
      entry.parts = parts;
    } else {
      entry.pagesBefore = inside.map(([, page]) => page);
    }
    out.push(entry);
    start = end + 2;
  }
  return out.filter((b) => b.text.trim());
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
