"""CPU-heavy steps, run in compute processes (or inline in a Celery worker). Top-level
functions of plain arguments so they pickle; each process builds its providers once."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from functools import cached_property
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from profai.domain import CourseDraft, PdfDocument
from profai.errors import ProfAIError
from profai.ingest.chunking import Chunk, chunk_document
from profai.ingest.pdf import DEFAULT_LIMITS, read_pdf
from profai.ingest.pdf_limits import PdfLimits, too_large
from profai.observability import logs
from profai.orphans import exit_when_parent_exits
from profai.providers.embedder import WINDOW, Embedder, token_counts
from profai.providers.generator import CourseGenerator
from profai.providers.registry import build_embedder, build_generator
from profai.settings import Settings


class Providers:
    """The providers this process's heavy steps use, each built on first use."""

    def __init__(self, embedder: Callable[[], Embedder], generator: Callable[[], CourseGenerator]) -> None:
        self._make_embedder, self._make_generator = embedder, generator

    @classmethod
    def from_settings(cls, s: Settings) -> Providers:
        return cls(lambda: build_embedder(s), lambda: build_generator(s))

    @cached_property
    def embedder(self) -> Embedder:
        return self._make_embedder()

    @cached_property
    def generator(self) -> CourseGenerator:
        return self._make_generator()


_providers: Providers | None = None


def init_process(settings_json: str) -> None:
    """Compute process start-up: lower priority so the API stays responsive, one thread each,
    and an end with the server however it ends."""
    exit_when_parent_exits()
    with contextlib.suppress(OSError):
        os.nice(10)
    settings = Settings.model_validate_json(settings_json)
    if settings.log_format == "json":  # spawned: nothing of the server's logging came along
        logs.configure("json")
    install(Providers.from_settings(settings))


def in_context(ids: dict[str, str | None], fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` in a compute process under the log ids (job, request) of the job that sent it."""
    with logs.bound(**ids):
        return fn(*args)


def install(providers: Providers) -> None:
    """Inline mode: the caller's providers are the ones to use."""
    global _providers
    _providers = providers


def _installed() -> Providers:
    assert _providers is not None, "init_process or install first"
    return _providers


# Passages fill the model's window but for [CLS] and [SEP]; consecutive ones share up to 40
# tokens of whole sentences, so an answer that straddles a cut is found whole in one of them.
PASSAGE_TOKENS, OVERLAP_TOKENS = WINDOW - 2, 40


def passages(doc: PdfDocument, on_page: Callable[[], None] = lambda: None) -> list[Chunk]:
    """The document cut into the passages that are embedded and cited."""
    return chunk_document(doc, PASSAGE_TOKENS, OVERLAP_TOKENS, on_page, measure=token_counts)


def extract_pdf(path: str, filename: str, limits: PdfLimits = DEFAULT_LIMITS,
                on_page: Callable[[int], None] | None = None) -> tuple[PdfDocument, list[Chunk]]:
    """A PDF's text and its passages (chunking is pure Python: here it holds no API thread's GIL)."""
    doc = read_pdf(Path(path), filename, limits, on_page)
    if on_page is None:
        return doc, passages(doc)
    return doc, passages(doc, on_page=lambda: on_page(len(doc.pages)))


def serve_pdf_reads(conn: Connection, settings_json: str) -> None:
    """A watched PDF reader process (pipelines/pdf_readers.py): reads (path, filename, limits)
    requests one at a time, saying ("page", n) after each page so the parent knows it is
    progressing, then ("done", (doc, chunks)) or ("error", a ProfAIError) or ("crash", text)."""
    init_process(settings_json)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            path, filename, limits = conn.recv()
        except EOFError:  # the parent let go of this process
            return
        try:
            result = extract_pdf(path, filename, limits, on_page=lambda n: conn.send(("page", n)))
        except ProfAIError as exc:
            conn.send(("error", exc))
        except MemoryError:
            conn.send(("error", too_large("reading it ran out of memory")))
        except Exception as exc:  # a bug: the details go to this log, never to the user
            logging.getLogger(__name__).exception("reading a PDF failed")
            conn.send(("crash", f"{type(exc).__name__} in the PDF reader (logged there)"))
        else:
            conn.send(("done", result))


def warm() -> int:
    """Load this process's local model (a second or so) and say which process it was."""
    _installed().embedder.embed(["warm up"])
    return os.getpid()


def embed(texts: list[str]) -> list[list[float]]:
    return _installed().embedder.embed(texts)


def build_course(title: str, documents: list[PdfDocument]) -> CourseDraft:
    return _installed().generator.build_course(title, documents)
