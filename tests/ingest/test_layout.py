"""Pages read as a reader sees them: code verbatim, headings with levels, lists, captions,
quotations, no running headers or page numbers, no contents pages, and the numbers printed on the
pages."""

from __future__ import annotations

from profai.domain import Page
from profai.ingest.page_labels import detect_labels, page_labels
from profai.ingest.pdf import read_pdf
from profai.ingest.pdf_blocks import DocStyle, is_navigation, page_blocks
from profai.ingest.pdf_lines import Line
from support import R_MANUALS
from textbook import QUOTE, make_textbook


def blocks(book_doc, kind):
    return [b for page in book_doc.pages for b in page.blocks if b.kind == kind]


def test_code_is_kept_verbatim_with_its_indentation(book, book_doc):
    code = [b.text for b in blocks(book_doc, "code")]
    assert code == book.code  # every listing, every space: indentation and aligned columns
    assert any("\n        total += value" in c for c in code)
    prose = "\n".join(b.text for b in blocks(book_doc, "paragraph"))
    assert "total += value" not in prose and "def mean" not in prose


def test_headings_keep_their_levels(book_doc):
    headings = {b.text: b.level for b in blocks(book_doc, "heading")}
    assert headings["1 Getting started"] < headings["1.1 Values and names"]
    assert headings["2.1 Making data frames"] == headings["1.2 Functions"]
    assert headings["Programming with Data"] == 1  # the title page's type is the largest
    assert not any(b.text.startswith(("1.1 ", "2.1 ")) for b in blocks(book_doc, "paragraph"))


def test_lists_and_captions_are_blocks_of_their_own(book_doc):
    (bullets,) = blocks(book_doc, "list")
    assert bullets.text.split("\n") == ["• a function has a name and a list of parameters,",
                                        "• its body is the indented block below the first line,",
                                        "• a return statement hands the result back to the caller."]
    assert [b.text for b in blocks(book_doc, "caption")] == ["Figure 2.1: A data frame with two columns and two rows."]


def test_a_quotation_is_a_block_and_a_definition_is_one_paragraph(book_doc):
    assert [b.text for b in blocks(book_doc, "quote")] == [QUOTE]  # set in from both margins
    # Set in from the left only, under its term: one paragraph, not a quotation nor a line each.
    (description,) = [b for b in blocks(book_doc, "paragraph") if b.text.startswith("a named sequence")]
    assert description.text.endswith("compared as a whole.")


def test_lines_set_in_that_are_not_quotations():
    style = DocStyle(10.9, (14.3,))
    full = "word " * 17
    body = [Line(full, 10.9, x=90, right=519), Line(full, 10.9, x=90, right=516)]
    # Two paragraphs' first lines (a 15 pt indent), the first one short: two paragraphs.
    firsts = [Line("A number by itself is a vector of length one.", 10.9, x=105, right=480),
              Line("Notice the assignment operator, which consists of two characters.", 10.9, x=105, right=518)]
    # Lines set in between code lines: a listing's comments in a roman face.
    comments = [Line("> f <- function() {", 10.9, mono=True, x=119, right=245),
                Line("graphics.off() # a small safety measure.", 10.9, x=130, right=467),
                Line("cat(date()) # Is it time for lunch?", 10.9, x=130, right=449),
                Line("}", 10.9, mono=True, x=119, right=119)]
    # A table's rows set in: they end no sentence.
    table = [Line("+ Plus, can be unary or binary", 10.9, x=119, right=460),
             Line("~ Tilde, used for model formulae", 10.9, x=119, right=455)]
    # A prototype's continuation in a larger type.
    larger = [Line("rightmost_closed, Rboolean all_inside, int ilo, int* mflag,", 12.0, x=140, right=471),
              Line("int left_open).", 12.0, x=140, right=222)]
    for lines in (firsts, comments, table, larger):
        kinds = [b.kind for b in page_blocks(body + lines + body, style)]
        assert "quote" not in kinds, (lines, kinds)
    quote = [Line("Note: lists and data frames can only be attached at position 2 or", 10.9, x=119, right=488),
             Line("above, and what is attached is a copy of the original object.", 10.9, x=119, right=400)]
    assert [b.kind for b in page_blocks(body + quote + body, style)] == ["paragraph", "quote", "paragraph"]


def test_running_headers_page_numbers_and_contents_pages_are_left_out(book, book_doc):
    text = "\n".join(page.text for page in book_doc.pages)
    assert book.headers and not any(header in text for header in book.headers)
    assert not any(line.strip() in {"30", "31", "32", "33", "i", "ii", "iii"} for line in text.split("\n"))
    contents = book_doc.pages[1]
    assert contents.blocks == () and contents.text == ""  # dot leaders and page numbers: navigation
    assert "for example the deep sites" in text  # "exam-" at a line end joined to "ple"


def test_printed_page_numbers_are_read_off_the_pages(book, book_doc):
    assert {page.number: page.label for page in book_doc.pages} == book.printed


def test_the_pdfs_own_page_labels_win(tmp_path):
    book = make_textbook(tmp_path / "labelled.pdf", pdf_labels=True, first_printed=7)
    labels = [page.label for page in read_pdf(book.path, "labelled.pdf").pages]
    assert labels == ["i", "ii", "iii", "7", "8", "9", "10"] == [book.printed[n] for n in range(1, 8)]


def test_label_detection_needs_a_steady_distance():
    lines = [["Introduction", "Some text"], ["12 Chapter 1 Plants", "text"], ["text", "13"],
             ["Chapter 1 Plants 14", "text"], ["1.2 Leaves", "text"], ["text", "16"]]
    # The section number "1.2" at the top of page 5 is not a page number; page 5 lies between
    # two pages printed at a distance of 10 from their index, so it is 15.
    assert detect_labels(lines) == [None, "12", "13", "14", "15", "16"]
    assert detect_labels([["no numbers"]] * 5) == [None] * 5
    # Two pages of front matter printed "i" and "ii" (R-data's): a bare roman numeral is a folio.
    assert detect_labels([["Title"], ["i", "Contents"], ["ii", "more"], ["text", "1"], ["text", "2"],
                          ["text", "3"]]) == [None, "i", "ii", "1", "2", "3"]
    assert detect_labels([["Title"], ["i", "text"], ["text"], ["iv", "text"]]) == [None, None, None, None]
    assert page_labels(["", ""], [["1 Intro"], ["2 More"]]) == [None, None]  # two pages prove nothing
    assert page_labels(["A-1", ""], [[], []]) == ["A-1", None]


def test_a_contents_page_is_navigation_and_prose_is_not():
    toc = [Line(f"{n}.{k} Section title . . . . . . . . . {n * 10 + k}") for n in range(1, 4) for k in range(1, 4)]
    assert is_navigation(toc)
    index = [Line(f"term{n}, {n}, {n + 40}") for n in range(12)]
    assert is_navigation(index)
    prose = [Line("Photosynthesis converts light into chemical energy in 3 steps.")] * 12
    assert not is_navigation(prose)


def test_pages_without_layout_keep_their_paragraphs():
    page = Page(number=1, text="First paragraph.\n\nSecond paragraph.")
    assert [(b.kind, b.text) for b in page.parts()] == [("paragraph", "First paragraph."),
                                                       ("paragraph", "Second paragraph.")]


def test_r_intro_code_and_labels():
    doc = read_pdf(R_MANUALS / "R-intro.pdf", "R-intro.pdf")
    code = [b.text for page in doc.pages for b in page.blocks if b.kind == "code"]
    # The factor example of chapter 4 keeps its continuation lines aligned under the first.
    assert any(c.startswith('> state <- c("tas", "sa",  "qld"') and '\n             "qld", "vic"' in c for c in code)
    assert "> A * B" in code
    assert doc.pages[10].label == "5" and doc.pages[2].label == "i"
    assert not doc.pages[2].blocks  # the table of contents
