"""CPU-heavy steps, run in compute processes (or inline in a Celery worker). Top-level
functions of plain arguments so they pickle; providers are built once per process."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from profai.ingest.chunking import Chunk, chunk_document
from profai.ingest.pdf import PdfDocument, read_pdf
from profai.orphans import exit_when_parent_exits
from profai.providers.generator import CourseDraft
from profai.settings import Settings

_settings: Settings | None = None


def init_process(settings_json: str) -> None:
    """Compute process start-up: lower priority so the API stays responsive, one thread each,
    and an end with the server however it ends."""
    global _settings
    exit_when_parent_exits()
    try:
        os.nice(10)
    except OSError:
        pass
    _settings = Settings.model_validate_json(settings_json)


def ensure_settings(settings: Settings) -> None:
    """Inline mode: the caller's settings are the ones to use."""
    global _settings
    _settings = settings


def _embedder():
    assert _settings is not None, "init_process or ensure_settings first"
    s = _settings
    return _embedder_for(s.embedder, s.embedding_threads, s.embedding_base_url, s.embedding_model, s.openai_api_key)


@lru_cache(maxsize=2)
def _embedder_for(*key):
    # The model loads once per process and per embedder configuration.
    from profai.wiring import build_embedder

    assert _settings is not None
    return build_embedder(_settings)


def extract_pdf(path: str, filename: str) -> tuple[PdfDocument, list[Chunk]]:
    """A PDF's text and its passages (chunking is pure Python: here it holds no API thread's GIL)."""
    doc = read_pdf(Path(path), filename)
    return doc, chunk_document(doc)


def embed(texts: list[str]) -> list[list[float]]:
    return _embedder().embed(texts)


def build_course(title: str, documents: list[PdfDocument]) -> CourseDraft:
    from profai.wiring import build_generator

    assert _settings is not None
    return build_generator(_settings).build_course(title, documents)
