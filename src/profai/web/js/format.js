// Text shown to the reader, built the same way wherever it appears.

/** "biology.pdf, pages 3-5" (or "page 3" when the range is one page). */
export function pagesLabel(file, start, end) {
  const pages = !end || end === start ? `page ${start}` : `pages ${start}-${end}`;
  return file ? `${file}, ${pages}` : pages;
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
