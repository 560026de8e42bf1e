"""PDFs -> course, in two steps the caller runs in turn: `draft_course` (extract, chunk,
generate: the course can be read as soon as it is saved) and `index_passages` (embed the passages
into the course's vector collection: chat needs them, reading does not).

Plain functions of their inputs, the compute pool, embedder and vector store they need, and a
progress reporter; saving the draft is the caller's business. Reruns are safe: chunk ids derive
from content and position, so vectors are upserted, never duplicated."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from profai.domain import CourseDraft, PdfDocument
from profai.errors import ProfAIError
from profai.ingest.chunking import Chunk
from profai.ingest.pdf_limits import PdfLimits
from profai.observability import metrics
from profai.pipelines import heavy
from profai.pipelines.compute import ComputePool
from profai.pipelines.embedding import BatchEmbedder
from profai.pipelines.progress import Progress
from profai.providers.embedder import batched
from profai.stores.files import file_sha256
from profai.stores.vectors import VectorStore, collection_name

EMBED_BATCH = 32


def course_collection(key: str) -> str:
    """The vector collection of the course built under `key` (its job id)."""
    return collection_name("course", key)


@dataclass(frozen=True)
class PdfFile:
    path: Path
    filename: str  # the name the user gave it, for messages


@dataclass
class DraftedCourse:
    draft: CourseDraft | None  # None when the caller already has the course (a rerun)
    documents: list[PdfDocument]
    passages: list[Chunk]
    seconds: dict[str, float] = field(default_factory=dict)  # per step
    duplicates: dict[str, str] = field(default_factory=dict)  # a copy's filename -> the file it repeats


def draft_course(files: list[PdfFile], title: str, progress: Progress, *, compute: ComputePool,
                 generate: bool = True) -> DraftedCourse:
    """The course drafted from `files` and the passages to index for it. Without `generate`, only
    the passages (a rerun whose course is already saved)."""
    clock = StepClock()
    files, duplicates = _unique(files, progress)
    docs, chunks = _extract(files, progress, compute)
    clock.lap("extract")  # and chunk
    draft = None
    if generate:
        progress.progress(60, f"Writing modules, lessons, summaries and key terms from {len(chunks)} passages")
        draft = compute.call(heavy.build_course, title, docs)
        clock.lap("generate")
    return DraftedCourse(draft, docs, chunks, clock.laps, duplicates)


def index_passages(chunks: list[Chunk], collection: str, progress: Progress, *, embedder: BatchEmbedder,
                   vectors: VectorStore) -> float:
    """Embed in batches (spread over the compute processes for the local model) and upsert each as
    it arrives; returns the seconds it took."""
    started = time.monotonic()
    batches = list(batched(chunks, EMBED_BATCH))
    done = 0
    progress.progress(0, f"Indexing {len(chunks)} passages for chat")
    embedded = embedder.embed_batches([[c.text for c in b] for b in batches], progress.deadline)
    for batch, vecs in zip(batches, embedded, strict=True):
        vectors.upsert(collection, [c.id for c in batch], _all(vecs), [c.text for c in batch],
                       [c.metadata() for c in batch])
        metrics.PASSAGES_EMBEDDED.inc(len(batch))
        done += len(batch)
        progress.progress(100 * done / max(1, len(chunks)), f"Indexing for chat: {done} of {len(chunks)} passages")
    return round(time.monotonic() - started, 3)


def _unique(files: list[PdfFile], progress: Progress) -> tuple[list[PdfFile], dict[str, str]]:
    """The files to build from, and each later copy of one (same bytes) with the name of the file
    it repeats. A PDF picked twice, or saved under two names, is read once: the teacher expects
    its material in the course once, not as two identical modules whose passages would answer
    every question twice. (Both copies used to fail the job: passage ids derive from the file's
    sha256 and position, so the copies' passages collided in the vector store.)"""
    unique: dict[str, PdfFile] = {}
    duplicates: dict[str, str] = {}
    for f in files:
        first = unique.setdefault(file_sha256(f.path), f)
        if first is not f:
            duplicates[f.filename] = first.filename
            progress.progress(1, f"{f.filename} is the same file as {first.filename}: it is read once")
    return list(unique.values()), duplicates


def _extract(files: list[PdfFile], progress: Progress, compute: ComputePool
             ) -> tuple[list[PdfDocument], list[Chunk]]:
    progress.progress(1, f"Extracting text from {len(files)} PDF file(s)")
    docs: list[PdfDocument] = []
    chunks: list[Chunk] = []
    limits = PdfLimits.from_settings(compute.settings)
    results = compute.read_pdfs([(str(f.path), f.filename) for f in files], limits)
    for n, f in enumerate(files):
        try:
            doc, passages = next(results)
        except ProfAIError as exc:
            raise type(exc)(f"{f.filename}: {exc.message}", code=exc.code) from None
        docs.append(doc)
        chunks += passages
        progress.progress(1 + 59 * (n + 1) / len(files), f"Extracted {doc.filename} ({len(doc.pages)} pages)")
    return docs, chunks


def _all(vecs: list[list[float] | None]) -> list[list[float]]:
    """Course passages are never kept back: a refused one (None) fails the step."""
    if any(v is None for v in vecs):
        raise ProfAIError("The embedding service refused a passage", code="embedding_rejected")
    return [v for v in vecs if v is not None]


class StepClock:
    """Seconds per pipeline step, reported in the job's result."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self.laps[step] = round(now - self._last, 3)
        self._last = now
