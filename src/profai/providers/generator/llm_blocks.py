"""A lesson's blocks as the language model sees them, and its answer turned back into blocks.

The model never sees a code listing: each code block becomes a numbered placeholder that the
model must keep, once and in order, where the listing belongs. Its prose is then read back into
paragraph, heading and list blocks, and the original code blocks are put back in place of the
placeholders, character for character, so no model can change, reflow or invent code. A quotation
is someone's exact words: it passes through the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

from profai.domain import Block, LessonDraft, paragraph_blocks

PLACEHOLDER = "[[CODE {}]]"
VERBATIM_KINDS = ("code", "quote")  # blocks the model never rewrites
_PLACEHOLDER_RE = re.compile(r"\[\[CODE (\d+)\]\]")
# What a mangled placeholder or a code listing of the model's own looks like once the exact
# placeholders are taken out: "[[code", "CODE 3]]", "CODE 3", a markdown code fence. Bare "[["
# is prose in some books (R's lst[[1]]), so it alone is not stray.
_STRAY_RE = re.compile(r"(?i:\[+\s*code\b|\bcode\s*\d+\s*\]+)|\bCODE\s*\d+\b|```")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(\S.*?)\s*#*$")
_ITEM_RE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+\S")


@dataclass(frozen=True)
class CodedSource:
    """A lesson's text with its code listings replaced by placeholders, and the listings by number."""

    text: str
    codes: tuple[Block, ...]  # codes[n - 1] is the block (code or quote) of PLACEHOLDER n
    # The source's headings and captions by their casefolded text: a written lesson keeps these
    # (as they were) and no others.
    marked: dict[str, Block]


def coded_source(lesson: LessonDraft) -> CodedSource:
    """The text the model rewrites: blocks a blank line apart, headings as markdown, code as placeholders."""
    blocks = lesson.blocks or paragraph_blocks(lesson.content)
    parts: list[str] = []
    codes: list[Block] = []
    marked: dict[str, Block] = {}
    for block in blocks:
        if block.kind in VERBATIM_KINDS:
            codes.append(block)
            parts.append(PLACEHOLDER.format(len(codes)))
            continue
        if block.kind in ("heading", "caption"):
            marked[_fold(block.text)] = block
        if block.kind == "heading":
            parts.append(f"{'#' * min(6, max(1, block.level or 3))} {' '.join(block.text.split())}")
        else:
            parts.append(block.text.strip())
    return CodedSource("\n\n".join(parts), tuple(codes), marked)


def placeholders_kept(written: str, count: int) -> bool:
    """True if `written` has each of the `count` placeholders exactly once, in order, and no other."""
    found = [int(n) for n in _PLACEHOLDER_RE.findall(written)]
    return found == list(range(1, count + 1)) and not _STRAY_RE.search(_PLACEHOLDER_RE.sub(" ", written))


def written_blocks(written: str, source: CodedSource) -> list[Block]:
    """The model's text as blocks, each placeholder replaced by its original code block.

    Call it on text that passed `placeholders_kept`. The source's headings and captions come back
    as they were; a heading the source does not have is dropped: the model may keep the book's
    structure, not add its own."""
    blocks: list[Block] = []
    pieces = _PLACEHOLDER_RE.split(written)  # prose, number, prose, number, ..., prose
    for i, piece in enumerate(pieces):
        if i % 2:
            blocks.append(source.codes[int(piece) - 1])
            continue
        for part in re.split(r"\n\s*\n", piece):
            if block := _prose_block(part, source.marked):
                blocks.append(block)
    return blocks


def _prose_block(part: str, marked: dict[str, Block]) -> Block | None:
    lines = [line.strip() for line in part.strip().splitlines() if line.strip()]
    if not lines:
        return None
    if len(lines) == 1 and (heading := _HEADING_RE.match(lines[0])):
        found = marked.get(_fold(heading.group(2)))
        return found if found is not None and found.kind == "heading" else None
    if len(lines) > 1 and all(_ITEM_RE.match(line) for line in lines):
        return Block("list", "\n".join(lines))
    text = " ".join(" ".join(lines).split())
    return marked.get(_fold(text)) or Block("paragraph", text)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()

