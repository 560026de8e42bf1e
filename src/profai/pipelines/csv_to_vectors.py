"""CSV file -> vectors in its namespace, in parts that run in parallel and retry on their own.

`split_csv` reads the file once (streaming), hands every row it cannot take to `on_errors`, and
writes the good rows into part files of `chunk_size` rows. `embed_part` embeds one part file's
rows in batches and upserts them under ids derived from the namespace and row id, so reruns and
re-uploads overwrite and never duplicate. Creating, running and settling the parts as jobs is
the job layer's business (jobs/dataset_job.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from profai.errors import JobFailed
from profai.ingest.csv_rows import CsvHeader, CsvSpec, Row, RowError, count_data_lines, read_rows
from profai.observability import metrics
from profai.pipelines.embedding import BatchEmbedder
from profai.pipelines.progress import Progress
from profai.providers.embedder import batched
from profai.stores.blobs import LocalBlobStore
from profai.stores.vectors import VectorStore, collection_name

ERROR_FLUSH = 1000
# Metadata keys ProfAI adds to every row's vector; user columns keep their own names.
ROW_ID, DATASET_ID, LINE = "_row_id", "_dataset_id", "_line"
RESERVED_KEYS = (ROW_ID, DATASET_ID, LINE)

RowErrors = Callable[[list[dict[str, Any]]], None]  # saves a batch of row errors


def dataset_collection(namespace: str) -> str:
    return collection_name("dataset", namespace)


def vector_id(namespace: str, row_id: str) -> str:
    """The same row id in the same namespace is always the same vector."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"profai:{namespace}:{row_id}").hex


def parts_prefix(dataset_id: str) -> str:
    """Where a dataset's part files live in the blob store."""
    return f"datasets/{dataset_id}/parts"


def clip(text: str | None, limit: int = 300) -> str | None:
    """Row ids and reasons are echoed in error lists: at most `limit` characters."""
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


# --- reading the file into parts ---------------------------------------------------------------


@dataclass
class SplitResult:
    parts: list[dict[str, Any]]  # key, rows, first_line, last_line of each part file
    rows: int  # good rows, written to the parts
    bad: int  # rows refused while reading


def split_csv(
    path: Path, spec: CsvSpec, header: CsvHeader, progress: Progress, *, blobs: LocalBlobStore, prefix: str,
    chunk_size: int, on_errors: RowErrors, filename: str,
) -> SplitResult:
    """Read the CSV once; good rows go to part files under `prefix`, refused rows to `on_errors`."""
    progress.progress(1, f"Reading {filename} ({header.encoding})")
    # The upload counted the lines as it stored the file; jobs queued before that count them now.
    lines = max(1, header.data_lines if header.data_lines is not None else count_data_lines(path))
    blobs.delete_prefix(prefix)  # a rerun of this step starts over
    writer = _PartWriter(blobs, prefix, chunk_size)
    errors: list[dict[str, Any]] = []
    bad = 0
    try:
        for item in read_rows(path, spec, header, work_dir=blobs.path(prefix)):
            if isinstance(item, RowError):
                bad += 1
                errors.append({"line": item.line, "row_id": clip(item.row_id), "code": item.code,
                               "reason": item.reason})
                if len(errors) >= ERROR_FLUSH:
                    _flush(on_errors, errors)
            else:
                writer.add(item)
                if writer.rows % 20_000 == 0:
                    progress.progress(1 + 9 * min(1.0, item.line / lines), f"Read {writer.rows:,} rows")
        _flush(on_errors, errors)
    finally:
        writer.close()
    if not writer.parts:
        raise JobFailed(f"None of the {writer.rows + bad} rows could be read: see the row errors",
                        code="no_valid_rows")
    return SplitResult(writer.parts, writer.rows, bad)


def _flush(on_errors: RowErrors, errors: list[dict[str, Any]]) -> None:
    if errors:
        on_errors(list(errors))
        errors.clear()


class _PartWriter:
    """Good rows into JSON-lines part files of `size` rows each; only one file is open at a time."""

    def __init__(self, blobs: LocalBlobStore, prefix: str, size: int) -> None:
        self.blobs, self.prefix, self.size = blobs, prefix, size
        self.parts: list[dict[str, Any]] = []
        self.rows = 0
        self._file: IO[str] | None = None

    def add(self, row: Row) -> None:
        if self._file is None or self.parts[-1]["rows"] >= self.size:
            self._file = self._open()
        self._file.write(json.dumps({"line": row.line, "id": row.id, "text": row.text, "metadata": row.metadata},
                                    ensure_ascii=False) + "\n")
        part = self.parts[-1]
        part["rows"] += 1
        part["last_line"] = row.line
        part.setdefault("first_line", row.line)
        self.rows += 1

    def _open(self) -> IO[str]:
        self.close()
        key = f"{self.prefix}/{len(self.parts):06d}.jsonl"
        path = self.blobs.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.parts.append({"key": key, "rows": 0})
        return path.open("w", encoding="utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# --- a part: embed and upsert its rows ---------------------------------------------------------


@dataclass
class PartResult:
    rows: int
    embedded: int
    rejected: list[dict[str, Any]] = field(default_factory=list)  # row errors for refused rows

    def summary(self) -> dict[str, int]:
        return {"rows": self.rows, "embedded": self.embedded, "rejected": len(self.rejected)}


def embed_part(
    path: Path, namespace: str, dataset_id: str, progress: Progress, *, embedder: BatchEmbedder,
    vectors: VectorStore, batch_size: int,
) -> PartResult:
    """Embed one part file's rows into the namespace's collection, tagged with the dataset."""
    rows = list(_read_part(path))
    collection = dataset_collection(namespace)
    batches = list(batched(rows, batch_size))
    done, rejected = 0, []
    progress.progress(1, f"Embedding {len(rows)} rows")
    embedded = embedder.embed_batches([[r["text"] for r in b] for b in batches], progress.deadline,
                                      keep_refused=True)
    for batch, vecs in zip(batches, embedded, strict=True):
        progress.check()
        kept = [(r, v) for r, v in zip(batch, vecs, strict=True) if v is not None]
        rejected += [r for r, v in zip(batch, vecs, strict=True) if v is None]
        if kept:
            vectors.upsert(
                collection, [vector_id(namespace, r["id"]) for r, _ in kept], [v for _, v in kept],
                [r["text"] for r, _ in kept],
                [{**r["metadata"], ROW_ID: r["id"], DATASET_ID: dataset_id, LINE: r["line"]} for r, _ in kept],
            )
            metrics.ROWS_EMBEDDED.inc(len(kept))
        done += len(batch)
        progress.progress(100 * done / max(1, len(rows)), f"Embedded {done} of {len(rows)} rows")
    errors = [{"line": r["line"], "row_id": clip(r["id"]), "code": "embedding_rejected",
               "reason": "the embedding service rejected this row's text"} for r in rejected]
    return PartResult(len(rows), len(rows) - len(rejected), errors)


def _read_part(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def remove_dataset(dataset_id: str, namespace: str, upload_key: str | None, *, blobs: LocalBlobStore,
                   vectors: VectorStore) -> None:
    """Everything a dataset wrote: its vectors, its part files and (if given) its uploaded file."""
    vectors.delete(dataset_collection(namespace), where={DATASET_ID: dataset_id})
    blobs.delete_prefix(f"datasets/{dataset_id}")
    if upload_key:
        blobs.delete(upload_key)
