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


@dataclass(frozen=True)
class _Sentence:
    text: str
    page: int
    paragraph: int  # global paragraph index, so chunks can keep paragraph breaks
    words: int


def chunk_document(doc: PdfDocument, max_words: int = 160, overlap_words: int = 30,
                   on_page: Callable[[], None] = lambda: None) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_words`, overlapping by up to `overlap_words`;
    `on_page()` after each page is split into sentences (progress, for a watcher)."""
    if max_words < 1:
        raise ValueError("max_words must be positive")
    overlap_words = max(0, min(overlap_words, max_words // 2))
    groups = _pack(_sentences(doc, max_words, on_page), max_words, overlap_words)
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


def _sentences(doc: PdfDocument, max_words: int, on_page: Callable[[], None]) -> list[_Sentence]:
    """All sentences in reading order; a sentence longer than `max_words` is cut into pieces."""
    out: list[_Sentence] = []
    paragraph = 0
    for page in doc.pages:
        on_page()
        for block in page.text.split("\n\n"):
            for sentence in split_sentences(block):
                tokens = sentence.split()
                # Only an over-long sentence is split, and then at word boundaries.
                for start in range(0, len(tokens), max_words):
                    piece = tokens[start : start + max_words]
                    out.append(_Sentence(" ".join(piece), page.number, paragraph, len(piece)))
            paragraph += 1
    return out


def _pack(sentences: list[_Sentence], max_words: int, overlap_words: int) -> list[list[_Sentence]]:
    groups: list[list[_Sentence]] = []
    current: list[_Sentence] = []
    size = 0
    fresh = 0  # sentences in `current` not already emitted in the previous chunk
    for sentence in sentences:
        if current and size + sentence.words > max_words:
            groups.append(current)
            current = _tail(current, overlap_words)
            size = sum(s.words for s in current)
            if size + sentence.words > max_words:
                current, size = [], 0
            fresh = 0
        current.append(sentence)
        size += sentence.words
        fresh += 1
    if current and fresh:
        groups.append(current)
    return groups


def _tail(group: list[_Sentence], overlap_words: int) -> list[_Sentence]:
    """The last whole sentences of `group` that fit in `overlap_words`."""
    tail: list[_Sentence] = []
    size = 0
    for sentence in reversed(group):
        if size + sentence.words > overlap_words:
            break
        tail.insert(0, sentence)
        size += sentence.words
    # Overlap is for context only; a chunk that is all overlap would add nothing.
    return tail if len(tail) < len(group) else []


def _render(group: list[_Sentence]) -> str:
    parts: list[str] = []
    for i, sentence in enumerate(group):
        if i:
            parts.append("\n\n" if sentence.paragraph != group[i - 1].paragraph else " ")
        parts.append(sentence.text)
    return "".join(parts)
