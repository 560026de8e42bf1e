"""A small programming textbook as a real PDF, laid out as books are: a title page, a table of
contents with dot leaders, a preface, chapters with numbered subsections, code listings in a
monospaced font with indentation, bullet lists, figure captions, a quotation set in from both
margins, a definition set in from the left only, running headers with the printed page number, a
footer number, and a word hyphenated at a line end. Tests read it back and compare
with what was drawn (`Textbook`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

WIDTH, HEIGHT = A4
LEFT = 72
BODY = ("Times-Roman", 11)
CODE = ("Courier", 10)
FRONT_PAGES = 3  # title, contents, preface: printed i-iii; chapter pages are printed from 1

QUOTE = ("Programs must be written for people to read, and only incidentally for machines to execute. "
         "A name chosen with care tells the next reader what the value means.")
PREFACE = [
    "This book teaches programming with data to students who have never written a program. "
    "Every chapter builds on the one before it, and each ends with exercises that use real measurements.",
    "Readers who already know another language can skim the first chapter. The examples run as printed, "
    "and the text explains each line of every listing before it moves on to the next idea.",
]

CHAPTERS = [
    ("1 Getting started", [
        ("1.1 Values and names", [
            ("p", "A program is a list of instructions that the computer follows one after another. "
                  "Each instruction works with values, and a name lets a program refer to a value later."),
            ("code", "count = 3\nprice = 2.50\ntotal = count * price"),
            ("p", "The assignment statement binds a name to a value. Reading the name gives the value back, "
                  "so the third line computes the total cost of three items at the given price."),
        ]),
        ("1.2 Functions", [
            ("p", "A function packages instructions under a name so that a program can run them many times. "
                  "The body of a function is indented below its first line, and the indentation is part of the "
                  "syntax rather than a matter of style."),
            ("code", "def mean(values):\n    total = 0\n    for value in values:\n        total += value\n"
                     "    return total / len(values)"),
            ("p", "The function above walks through the values, adds each one to a running total and divides the "
                  "total by the number of values. The result is the arithmetic mean of the measurements."),
            ("list", ["a function has a name and a list of parameters,",
                      "its body is the indented block below the first line,",
                      "a return statement hands the result back to the caller."]),
        ]),
    ]),
    ("2 Data frames", [
        ("2.1 Making data frames", [
            ("p", "A data frame holds a table of measurements in which every column has a name and every row "
                  "describes one observation. Most analyses start by reading such a table from a file."),
            ("code", "frame = {\n    \"site\":  [\"north\", \"south\"],\n    \"depth\": [12.5,    8.0],\n}"),
            ("caption", "Figure 2.1: A data frame with two columns and two rows."),
            ("definition", ("column", "a named sequence of values of one type that runs down the frame; every "
                                      "row holds exactly one value of each column, so that a column can be "
                                      "read, summarised or compared as a whole.")),
            ("p", "The columns of a data frame can hold numbers or text, and the rows keep the measurements of "
                  "one site together so that a program never separates a depth from its site."),
        ]),
        ("2.2 Selecting rows", [
            ("p", "Selecting rows keeps the observations that satisfy a condition and drops the others. A "
                  "condition compares a column with a value and gives true or false for every row of the "
                  "frame, and the selection keeps exactly the rows where the comparison is true, for exam- "
                  "ple the deep sites."),
            ("code", "deep = [row for row in rows\n        if row[\"depth\"] > 10]"),
            ("p", "The comprehension reads every row once and keeps the deep ones in the same order as the "
                  "original table, so the result can be compared line by line with the source."),
            ("quote", QUOTE),
        ]),
    ]),
]


@dataclass
class Textbook:
    path: Path
    code: list[str] = field(default_factory=list)  # every listing, as drawn
    headers: list[str] = field(default_factory=list)  # every running header line drawn
    printed: dict[int, str] = field(default_factory=dict)  # PDF page index (1-based) -> number printed on it
    pages: int = 0


def make_textbook(path: Path, *, pdf_labels: bool = False, first_printed: int = 1) -> Textbook:
    """Write the textbook. Chapter pages print `first_printed`, `first_printed + 1`, ... in their
    running headers; front pages print roman numerals at the foot. With `pdf_labels`, the PDF also
    carries /PageLabels saying the same."""
    book = Textbook(path)
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Programming with Data")
    _title_page(c)
    book.printed[1] = "i"
    _footer(c, "i")
    c.showPage()
    _contents(c)
    book.printed[2] = "ii"
    _footer(c, "ii")
    c.showPage()
    c.bookmarkPage("preface")
    c.addOutlineEntry("Preface", "preface", level=0)
    y = _heading(c, "Preface", HEIGHT - 90, 18)
    for paragraph in PREFACE:
        y = _paragraph(c, paragraph, y)
    book.printed[3] = "iii"
    _footer(c, "iii")
    c.showPage()
    page = FRONT_PAGES + 1
    for chapter, sections in CHAPTERS:
        key = f"ch{page}"
        c.bookmarkPage(key)
        c.addOutlineEntry(chapter, key, level=0)
        y = _heading(c, chapter, HEIGHT - 100, 18)
        for number, (section, blocks) in enumerate(sections):
            if number:  # each section on a page of its own, under the running header
                book.printed[page] = str(page - FRONT_PAGES - 1 + first_printed)
                book.headers.append(_running_header(c, chapter, book.printed[page]))
                c.showPage()
                page += 1
                y = HEIGHT - 100
            skey = f"s{page}-{number}"
            c.bookmarkPage(skey)
            c.addOutlineEntry(section, skey, level=1)
            y = _heading(c, section, y, 13)
            for kind, content in blocks:
                if kind == "p":
                    y = _paragraph(c, str(content), y)
                elif kind == "code":
                    book.code.append(str(content))
                    y = _code(c, str(content), y)
                elif kind == "list":
                    y = _bullets(c, list(content), y)
                elif kind == "quote":
                    y = _paragraph(c, str(content), y, left=LEFT + 30, width=76)
                elif kind == "definition":
                    term, description = content
                    y = _paragraph(c, str(term), y, font=("Times-Bold", 11)) + 8
                    y = _paragraph(c, str(description), y, left=LEFT + 30, width=82)
                else:
                    y = _paragraph(c, str(content), y, font=("Times-Italic", 10))
        book.printed[page] = str(page - FRONT_PAGES - 1 + first_printed)
        book.headers.append(_running_header(c, chapter, book.printed[page]))
        c.showPage()
        page += 1
    book.pages = page - 1
    if pdf_labels:
        c.addPageLabel(0, style="ROMAN_LOWER")  # i, ii, iii
        c.addPageLabel(FRONT_PAGES, style="ARABIC", start=first_printed)
    c.save()
    return book


def _title_page(c: canvas.Canvas) -> None:
    c.setFont("Helvetica-Bold", 28)
    c.drawString(LEFT, HEIGHT - 250, "Programming with Data")
    c.setFont("Helvetica", 14)
    c.drawString(LEFT, HEIGHT - 290, "A first course for scientists")


def _contents(c: canvas.Canvas) -> None:
    y = _heading(c, "Contents", HEIGHT - 90, 18)
    c.setFont(*BODY)
    entries = [("Preface", "iii")] + [(title, str(n)) for n, (title, _) in enumerate(CHAPTERS, start=1)]
    entries += [(s, str(n)) for n, (_, sections) in enumerate(CHAPTERS, start=1) for s, _ in sections]
    for title, printed in entries:
        c.drawString(LEFT, y, f"{title} " + ". " * ((60 - len(title)) // 2) + printed)
        y -= 16


def _heading(c: canvas.Canvas, text: str, y: float, size: int) -> float:
    c.setFont("Helvetica-Bold", size)
    c.drawString(LEFT, y, text)
    return y - size * 2


def _paragraph(c: canvas.Canvas, text: str, y: float, font: tuple[str, int] = BODY, left: float = LEFT,
               width: int = 88) -> float:
    """`text` wrapped at `width` chars from `left`: a quotation is narrower on both sides."""
    c.setFont(*font)
    line = ""
    # Words are kept as given: a word ending in "-" ends its line there (a line-end hyphen).
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            c.drawString(left, y, line)
            y -= 14
            line = ""
        line = f"{line} {word}".strip()
        if line.endswith("-"):
            c.drawString(left, y, line)
            y -= 14
            line = ""
    if line:
        c.drawString(left, y, line)
        y -= 14
    return y - 8


def _code(c: canvas.Canvas, text: str, y: float) -> float:
    c.setFont(*CODE)
    for line in text.split("\n"):
        c.drawString(LEFT + 20, y, line)  # drawString keeps the spaces: Courier puts each at its column
        y -= 12
    return y - 10


def _bullets(c: canvas.Canvas, items: list[str], y: float) -> float:
    c.setFont(*BODY)
    for item in items:
        c.drawString(LEFT + 8, y, "•")
        c.drawString(LEFT + 20, y, item)
        y -= 14
    return y - 8


def _running_header(c: canvas.Canvas, chapter: str, printed: str) -> str:
    text = f"{printed} Chapter {chapter}"
    c.setFont("Times-Italic", 9)
    c.drawString(LEFT, HEIGHT - 50, text)
    c.drawString(WIDTH / 2, 40, printed)
    return text


def _footer(c: canvas.Canvas, printed: str) -> None:
    c.setFont("Times-Roman", 9)
    c.drawString(WIDTH / 2, 40, printed)
