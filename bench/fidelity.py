"""Course fidelity (issue 17), measured over real PDFs of different makers:

- code lines kept verbatim (text and indentation) where the source is known: a reportlab textbook
  (tests/textbook.py) and a document LibreOffice writes from HTML (goal >= 98%);
- running header/footer lines leaking into lessons (goal 0) and table-of-contents or index
  lessons (goal 0), over the R manuals of r-doc-pdf and the textbook;
- printed page numbers read off the pages, against the PDF's own /PageLabels of the R manuals
  and the numbers the textbook prints (goal 100%);
- OCR character accuracy and pages/s on a scanned 20-page handout;
- quizzes: single-blank prompts and same-kind key-term distractors (bench/quiz_quality.py);
- extraction time of R-exts.pdf (236 pages) now and at --baseline REV, in the same run (goal: the
  same within 10%).

Usage: python bench/fidelity.py [--baseline REV] [--runs N]
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]
from common import R_MANUALS, save  # noqa: E402
from ingest_pdf import checkout  # noqa: E402
from quiz_quality import course_lessons, measure  # noqa: E402

from factories import BIOLOGY, make_scanned_pdf  # noqa: E402
from profai.ingest.page_labels import detect_labels  # noqa: E402
from profai.ingest.pdf import read_pdf  # noqa: E402
from profai.providers.generator import ExtractiveGenerator  # noqa: E402
from textbook import make_textbook  # noqa: E402

MANUALS = ("R-intro.pdf", "R-exts.pdf", "R-data.pdf", "R-lang.pdf", "R-admin.pdf", "R-FAQ.pdf", "R-ints.pdf")
# texinfo's running headers: "Chapter 5: Arrays and matrices 24", "Appendix A: A sample session 80".
R_HEADER_RE = re.compile(r"(?:^|\n)(?:Chapter \d+|Appendix [A-Z]): [^\n]{3,80}? \d{1,3}(?:\n|$)")
LEADERS_RE = re.compile(r"(?:\. ?){6,}\d")
HTML_CODE = [
    "def mean(values):\n    total = 0\n    for value in values:\n        total += value\n    return total / len(values)",
    "class Sample:\n    def __init__(self, site, depth):\n        self.site = site\n        self.depth = depth\n\n"
    "    def deep(self):\n        return self.depth > 10",
    "rows = [\n    (\"north\", 12.5),\n    (\"south\",  8.0),\n]",
]


def lessons_of(pdfs: list[Path]) -> list[Any]:
    docs = [read_pdf(p, p.name) for p in pdfs]
    course = ExtractiveGenerator().build_course("bench", docs)
    return [lesson for module in course.modules for lesson in module.lessons]


def code_fidelity(lessons: list[Any], truth: list[str]) -> dict[str, Any]:
    """Share of the source's code lines found, exactly, as lines of the lessons' code blocks."""
    found = [line for le in lessons for b in le.blocks if b.kind == "code" for line in b.text.split("\n")]
    wanted = [line for listing in truth for line in listing.split("\n") if line.strip()]
    pool = list(found)
    hits = 0
    for line in wanted:
        if line in pool:
            pool.remove(line)
            hits += 1
    return {"code_lines": len(wanted), "verbatim": hits, "verbatim_share": round(hits / max(1, len(wanted)), 4)}


def quote_blocks(lessons: list[Any]) -> int:
    return sum(b.kind == "quote" for le in lessons for b in le.blocks)


def leaks(lessons: list[Any], headers: list[str] | None = None) -> dict[str, int]:
    text = "\n".join(le.content for le in lessons)
    header_hits = len(R_HEADER_RE.findall(text)) if headers is None else sum(text.count(h) for h in headers)
    navigation = sum(1 for le in lessons if len(LEADERS_RE.findall(le.content)) >= 3
                     or re.search(r"\b(?:index|contents)$", le.title, re.IGNORECASE))
    return {"lessons": len(lessons), "header_lines_in_lessons": header_hits, "navigation_lessons": navigation}


def label_accuracy(pdf: Path) -> dict[str, Any]:
    """Printed numbers read off the pages (the PDF's labels set aside) against those labels, on the
    pages whose label is a number (front and back matter with "T-1" style labels aside)."""
    import pypdfium2 as pdfium

    from profai.ingest import pdf as reader

    document = pdfium.PdfDocument(pdf)
    truth = [document.get_page_label(i) for i in range(len(document))]
    lines = []
    for index in range(len(document)):
        textpage = document[index].get_textpage()
        lines.append([line.strip() for line in reader._normalise(textpage.get_text_bounded()).splitlines()])
    document.close()
    got = detect_labels(lines)
    sample = [i for i, label in enumerate(truth) if re.fullmatch(r"\d+|[ivxlc]+", label or "")]
    right = sum(got[i] == truth[i] for i in sample)
    return {"labelled_pages": len(sample), "right": right, "share": round(right / max(1, len(sample)), 4)}


def libreoffice_pdf(work: Path) -> Path | None:
    soffice = shutil.which("soffice")
    if soffice is None:
        return None
    paragraphs = " ".join(BIOLOGY[0][1])
    html = ["<html><body><h1>Programming with data</h1><h2>1 Functions</h2>", f"<p>{paragraphs}</p>",
            f"<blockquote><p>{paragraphs}</p></blockquote>"]
    for n, code in enumerate(HTML_CODE, start=1):
        html += [f"<h3>1.{n} Listing {n}</h3><p>{paragraphs}</p>", f"<pre>{code}</pre>",
                 "<ul><li>a function has a name,</li><li>its body is indented.</li></ul>"]
    source = work / "lo.html"
    source.write_text("\n".join(html) + "</body></html>")
    subprocess.run([soffice, "--headless", "--convert-to", "pdf:writer_web_pdf_Export", "--outdir", str(work),
                    str(source)], check=True, capture_output=True, timeout=300)
    return work / "lo.pdf"


def ocr_figures(work: Path) -> dict[str, Any]:
    chapters = BIOLOGY * 7  # 21 pages: one chapter a page
    scan = make_scanned_pdf(work / "handout.pdf", chapters)
    started = time.perf_counter()
    doc = read_pdf(scan, "handout.pdf")
    seconds = time.perf_counter() - started
    squash = lambda text: " ".join(text.split())  # noqa: E731
    truth = squash(" ".join(f"{title} {' '.join(paras)}" for title, paras in chapters))
    read = squash(" ".join(page.text for page in doc.pages))
    accuracy = difflib.SequenceMatcher(None, truth, read, autojunk=False).ratio()
    return {"pages": len(doc.pages), "ocr_pages": len(doc.ocr_pages), "seconds": round(seconds, 2),
            "pages_per_second": round(len(doc.pages) / seconds, 2), "char_accuracy": round(accuracy, 4)}


def extraction_seconds(pdf: Path, src: Path, runs: int) -> dict[str, float]:
    """Median seconds, in fresh processes of the tree at `src`, of reading the PDF and of drafting
    its course from what was read (structure, summaries, key terms): the readable course's own work."""
    code = ("import json,sys,time; from pathlib import Path; from profai.ingest.pdf import read_pdf; "
            "from profai.providers.generator import ExtractiveGenerator; t=time.perf_counter(); "
            "d=read_pdf(Path(sys.argv[1]), 'x.pdf'); r=time.perf_counter(); ExtractiveGenerator().build_course('x', [d]); "
            "print(json.dumps({'read': r-t, 'draft': time.perf_counter()-t}))")
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = [json.loads(subprocess.run([sys.executable, "-c", code, str(pdf)], env=env, check=True,
                                     capture_output=True, text=True).stdout.strip()) for _ in range(runs)]
    return {key: round(median(o[key] for o in out), 3) for key in ("read", "draft")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", help="a commit whose extraction time is measured in the same run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        book = make_textbook(work / "textbook.pdf", first_printed=30)
        book_lessons = lessons_of([book.path])
        figures["textbook_reportlab"] = {**code_fidelity(book_lessons, book.code), **leaks(book_lessons, book.headers),
                                         "labels_right": sum(p.label == book.printed[p.number] for p in
                                                             read_pdf(book.path, "t.pdf").pages),
                                         "labels": book.pages, "quotes_drawn": 1,
                                         "quote_blocks": quote_blocks(book_lessons)}
        lo = libreoffice_pdf(work)
        lo_lessons = lessons_of([lo]) if lo else []
        figures["libreoffice_html"] = {**code_fidelity(lo_lessons, HTML_CODE), "quotes_drawn": 1,
                                       "quote_blocks": quote_blocks(lo_lessons)} if lo else "soffice not installed"
        figures["r_manuals"] = {name: {**leaks(lessons := lessons_of([R_MANUALS / name])),
                                       "quote_blocks": quote_blocks(lessons), "labels": label_accuracy(R_MANUALS / name)}
                                for name in MANUALS}
        figures["scanned_handout"] = ocr_figures(work)
    figures["quiz_r_intro"] = measure(course_lessons())
    exts = R_MANUALS / "R-exts.pdf"
    figures["extract_r_exts_seconds"] = {"now": extraction_seconds(exts, ROOT / "src", args.runs)}
    if args.baseline:
        figures["extract_r_exts_seconds"]["baseline"] = extraction_seconds(exts, checkout(args.baseline), args.runs)
        figures["extract_r_exts_seconds"]["baseline_commit"] = args.baseline
    save("fidelity", figures)
    print(json.dumps(figures["extract_r_exts_seconds"]))


if __name__ == "__main__":
    main()
