"""Types that several layers share: what ingestion reads from a PDF, the course a generator
drafts, the passages retrieval finds and the answers that cite them. Imports no layer of
ProfAI, so every layer may import it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# --- a PDF as ingestion reads it ---------------------------------------------------------------


BLOCK_KINDS = ("paragraph", "heading", "code", "list", "quote", "caption")
LIST_BULLETS = "•◦▪‣∙●○■□➢►✓·*–-"  # what starts an item of a bulleted list block


@dataclass(frozen=True)
class Block:
    """A unit of a page as a reader sees it. `text` of a code block keeps every line and space as
    printed; a list's items are one per line; `level` ranks a heading (1 = largest), else 0."""

    kind: str  # one of BLOCK_KINDS
    text: str
    level: int = 0


@dataclass(frozen=True)
class Page:
    """One page's cleaned text; blocks are separated by a blank line in `text`. A page read
    without layout (OCR, imports) has no `blocks`: its paragraphs are the parts of `text`."""

    number: int  # 1-based: the PDF's own page index, for links and rendering
    text: str
    blocks: tuple[Block, ...] = ()
    label: str | None = None  # the number printed on the page ("32", "iv"), when known

    def parts(self) -> tuple[Block, ...]:
        """The page's blocks; paragraphs split from `text` where the page has none."""
        return self.blocks or paragraph_blocks(self.text)


def paragraph_blocks(text: str) -> tuple[Block, ...]:
    """Text without layout (OCRed, imported, written by a model) as blocks: its paragraphs."""
    return tuple(Block("paragraph", part) for part in text.split("\n\n") if part.strip())


def blocks_text(blocks: Iterable[Block]) -> str:
    """The text of a page or lesson made of `blocks`: their texts, a blank line apart."""
    return "\n\n".join(b.text for b in blocks)


def page_label(labels: Sequence[str | None], page: int) -> str | None:
    """The number printed on PDF page `page` (1-based), from a file's labels by page index."""
    return labels[page - 1] if 0 < page <= len(labels) else None


@dataclass(frozen=True)
class OutlineEntry:
    """One bookmark of the PDF outline."""

    title: str
    level: int  # 0 = top level
    page: int  # 1-based


@dataclass(frozen=True)
class PdfDocument:
    """The text and outline of one PDF."""

    filename: str  # display name only, never used as a path
    sha256: str  # of the file bytes
    pages: list[Page]
    outline: list[OutlineEntry]
    ocr_pages: list[int] = field(default_factory=list)  # 1-based: pages read by OCR (no text layer)


# --- a course as a generator drafts it ---------------------------------------------------------


@dataclass
class LessonDraft:
    """One lesson: source text of a page range plus its summary and key terms; `page_marks`
    ((offset, page), ...) says where each page begins in `content` when it is the source text."""

    title: str
    content: str
    summary: str
    key_terms: list[str]
    source_file: str
    page_start: int
    page_end: int
    page_marks: list[tuple[int, int]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)  # `content` as blocks, when it is the source text


@dataclass
class ModuleDraft:
    """A group of lessons, usually one chapter."""

    title: str
    lessons: list[LessonDraft] = field(default_factory=list)


@dataclass
class CourseDraft:
    """A whole course built from one or more documents."""

    title: str
    modules: list[ModuleDraft] = field(default_factory=list)


# --- retrieval and answers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """A retrieved passage with its provenance; `score` is the ranking's own (RRF, cosine or BM25)."""

    id: str
    text: str
    source_file: str
    page_start: int
    page_end: int
    score: float
    vector_score: float | None = None  # cosine similarity when the vector ranking returned it
    keyword_score: float | None = None  # BM25 score when the keyword ranking returned it


@dataclass(frozen=True)
class Citation:
    """A cited passage: its marker number in the answer text, provenance and the sentences quoted."""

    number: int
    passage_id: str
    source_file: str
    page_start: int
    page_end: int
    quotes: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """An extractive answer; `sentences` carry their "[n]" markers and join into `text`."""

    text: str
    sentences: list[str]
    citations: list[Citation]
    grounded: bool


@dataclass
class ChatAnswer:
    """A finished chat answer: its text with [n] markers, the passages they cite, and how it was made."""

    text: str
    citations: list[Citation]
    grounded: bool
    generator: str
    fallback: bool = False  # the model failed and the extractive backend answered instead
    note: str | None = None  # why it fell back


Turn = tuple[str, str]  # (question, answer) of an earlier exchange


# --- people ------------------------------------------------------------------------------------

# Ids are Integer columns: 32 bits on PostgreSQL. A larger id names nothing and is refused (422)
# before any query, rather than overflowing one.
MAX_ID = 2**31 - 1

ADMIN, TEACHER, STUDENT = "admin", "teacher", "student"
ROLES = (ADMIN, TEACHER, STUDENT)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user, a user's API key, the API_KEY admin key or the local CLI.
    `user_id` is None for the last two, which own nothing and see everything."""

    user_id: int | None
    role: str
    email: str = ""
    via: str = "session"  # session | key | admin_key | cli

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def is_teacher(self) -> bool:
        return self.role == TEACHER


CLI = Principal(user_id=None, role=ADMIN, email="", via="cli")  # whoever runs the CLI owns the data dir
