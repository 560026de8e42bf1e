"""Cut a document into sentence-aligned chunks sized for the embedding model, keeping page provenance."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from profai.domain import PdfDocument
from profai.text import split_sentences


@dataclass(frozen=True)
class Chunk:
    """A passage of a document with the pages it came from."""

    id: str  # sha256(f"{doc.sha256}:{position}:{text}") hex[:32]
    source_file: str
    page_start: int
    page_end: int
    position: int  # 0-based order within the document
    text: str

    def metadata(self) -> dict[str, str | int]:
        """What the vector store keeps beside the text: where in the sources the passage is."""
        return {"source_file": self.source_file, "page_start": self.page_start, "page_end": self.page_end,
                "position": self.position}


# The size of each text in the embedding model's units (its tokens); passages are cut to fit its
# window, beyond which a model ignores the tail. Words stand in where no model is at hand.
Measure = Callable[[list[str]], list[int]]


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


@dataclass(frozen=True)
class _Sentence:
    text: str
    page: int
    paragraph: int  # global paragraph index, so chunks can keep paragraph breaks
    size: int


def chunk_document(doc: PdfDocument, max_size: int = 160, overlap: int = 30,
                   on_page: Callable[[], None] = lambda: None, measure: Measure = words) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_size` (by `measure`), overlapping by up to
    `overlap`; `on_page()` after each page is split into sentences (progress, for a watcher)."""
    if max_size < 1:
        raise ValueError("max_size must be positive")
    overlap = max(0, min(overlap, max_size // 2))
    groups = _pack(_sentences(doc, max_size, on_page, measure), max_size, overlap)
    chunks = []
    for position, group in enumerate(groups):
        text = _render(group)
        digest = hashlib.sha256(f"{doc.sha256}:{position}:{text}".encode()).hexdigest()[:32]
        chunks.append(
            Chunk(
                id=digest,
                source_file=doc.filename,
                page_start=min(s.page for s in group),
                page_end=max(s.page for s in group),
                position=position,
                text=text,
            )
        )
    return chunks


def _sentences(doc: PdfDocument, max_size: int, on_page: Callable[[], None], measure: Measure) -> list[_Sentence]:
    """All sentences in reading order, measured a page at a time (so a watcher hears from us as
    the measuring goes on); one larger than `max_size` is cut into pieces at word boundaries."""
    out: list[_Sentence] = []
    paragraph = 0
    for page in doc.pages:
        found: list[tuple[str, int]] = []
        for block in page.text.split("\n\n"):
            found += [(sentence, paragraph) for sentence in split_sentences(block)]
            paragraph += 1
        for (text, par), size in zip(found, measure([t for t, _ in found]), strict=True):
            if size <= max_size:
                out.append(_Sentence(text, page.number, par, size))
            else:
                out += [_Sentence(piece, page.number, par, n) for piece, n in _cut(text, max_size, measure)]
        on_page()
    return out


def _cut(sentence: str, max_size: int, measure: Measure) -> list[tuple[str, int]]:
    """An over-long sentence in pieces of whole words, each at most `max_size` (a word larger than
    that on its own is a piece by itself; the model truncates it). Pieces' sizes add up: the
    model's tokenizer splits at whitespace first."""
    tokens = sentence.split()
    pieces: list[tuple[str, int]] = []
    piece: list[str] = []
    size = 0
    for word, n in zip(tokens, measure(tokens), strict=True):
        if piece and size + n > max_size:
            pieces.append((" ".join(piece), size))
            piece, size = [], 0
        piece.append(word)
        size += n
    if piece:
        pieces.append((" ".join(piece), size))
    return pieces


def _pack(sentences: list[_Sentence], max_size: int, overlap: int) -> list[list[_Sentence]]:
    groups: list[list[_Sentence]] = []
    current: list[_Sentence] = []
    size = 0
    fresh = 0  # sentences in `current` not already emitted in the previous chunk
    for sentence in sentences:
        if current and size + sentence.size > max_size:
            groups.append(current)
            current = _tail(current, overlap)
            size = sum(s.size for s in current)
            if size + sentence.size > max_size:
                current, size = [], 0
            fresh = 0
        current.append(sentence)
        size += sentence.size
        fresh += 1
    if current and fresh:
        groups.append(current)
    return groups


def _tail(group: list[_Sentence], overlap: int) -> list[_Sentence]:
    """The last whole sentences of `group` that fit in `overlap`."""
    tail: list[_Sentence] = []
    size = 0
    for sentence in reversed(group):
        if size + sentence.size > overlap:
            break
        tail.insert(0, sentence)
        size += sentence.size
    # Overlap is for context only; a chunk that is all overlap would add nothing.
    return tail if len(tail) < len(group) else []


def _render(group: list[_Sentence]) -> str:
    parts: list[str] = []
    for i, sentence in enumerate(group):
        if i:
            parts.append("\n\n" if sentence.paragraph != group[i - 1].paragraph else " ")
        parts.append(sentence.text)
    return "".join(parts)
