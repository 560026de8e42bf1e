// Text shown to the reader, built the same way wherever it appears.

/** "biology.pdf, pages 3-5" (or "page 3" when the range is one page). */
export function pagesLabel(file, start, end) {
  const pages = !end || end === start ? `page ${start}` : `pages ${start}-${end}`;
  return file ? `${file}, ${pages}` : pages;
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
