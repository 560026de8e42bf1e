"""Receiving files. Every upload goes through an UploadBatch, whether an HTTP body streams it in
(api/multipart.py) or a caller hands over streams (the CLI, receive()): the one place its files
are counted, held to the size limit, judged by their content and named in errors. Keys are
generated, so an upload's name never becomes a path."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from profai.errors import InvalidInput, PayloadTooLarge, ProfAIError
from profai.ingest.csv_scan import CsvScan
from profai.ingest.pdf import DEFAULT_LIMITS, inspect_pdf
from profai.ingest.pdf_limits import PdfLimits
from profai.settings import Settings
from profai.stores.blobs import BlobWriter, Check, LocalBlobStore, Scan, StoredBlob

COPY_BUFFER = 1024 * 1024  # pieces a stream is copied in
BODY_SLACK = 1024 * 1024  # what a request body may hold besides its files (fields, part headers)


@dataclass(frozen=True)
class UploadRules:
    """What one kind of upload accepts. The HTTP route and the service take the same rules, so a
    file is held to the same limits whichever way it arrives."""

    prefix: str  # where its files go in the blob store
    suffix: str
    max_bytes: int  # per file
    max_files: int
    missing: str  # the no_files message: where to send the files
    check: Check | None = None  # judges a stored file (opening a PDF)
    scan: Callable[[], Scan] | None = None  # judges a file while it is written (a CSV)
    unnamed: str | None = None  # the name of a file sent without one, else file-<n><suffix>
    read_seconds: float = 30.0  # the longest pause between two pieces of a request body (api/multipart.py)

    @property
    def max_body(self) -> int:
        """The largest request body an upload these rules accept can have (a proxy's limit too)."""
        return self.max_bytes * self.max_files + BODY_SLACK

    def check_body(self, length: int) -> None:
        """Refuse at once a request body too large to be an upload these rules accept, before
        reading any of it."""
        if length > self.max_body:
            files = f"{self.max_files} file{'s' if self.max_files != 1 else ''}"
            raise PayloadTooLarge(f"The upload is larger than {files} of {self.max_bytes / 1024 / 1024:g} MB",
                                  code="file_too_large")


def pdf_facts(path: Path, limits: PdfLimits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The check of an uploaded PDF: refuses one that is not a readable PDF, or is past what
    can be seen of the limits without reading its text (pages, page tree, decompressed size),
    else its page count."""
    return {"pages": inspect_pdf(path, limits)}


def pdf_uploads(settings: Settings) -> UploadRules:
    """The PDFs of a course."""
    return UploadRules("pdfs", ".pdf", settings.max_upload_bytes, settings.max_files,
                       check=partial(pdf_facts, limits=PdfLimits.from_settings(settings)),
                       missing="No file was uploaded: send one or more files in the `files` field",
                       read_seconds=settings.client_body_timeout)


def csv_uploads(settings: Settings, prefix: str) -> UploadRules:
    """The CSV file of a dataset, kept under `prefix`; its facts are {"header": CsvHeader, "sha256": str}."""
    return UploadRules(prefix, ".csv", settings.max_dataset_bytes, 1,
                       scan=partial(CsvScan, max_columns=settings.max_csv_columns), unnamed="dataset.csv",
                       missing="No file was uploaded: send the CSV in the `file` field",
                       read_seconds=settings.client_body_timeout)


@dataclass(frozen=True)
class StoredFile:
    """An upload in the blob store, judged: the name it goes by in errors and records, its blob."""

    name: str
    blob: StoredBlob


@dataclass
class IncomingFile:
    """A file arriving as a stream, or one the API already received through an UploadBatch."""

    filename: str | None
    stream: BinaryIO | None = None
    stored: StoredFile | None = None


def too_large(max_bytes: int) -> str:
    return f"larger than the {max_bytes / 1024 / 1024:g} MB limit"


def display_name(filename: str | None, fallback: str) -> str:
    """A safe label for an uploaded file: its base name, printable, at most 120 characters."""
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:120] or fallback


def _for_file(exc: ProfAIError, name: str) -> ProfAIError:
    """The same error, saying which file it is about: the one place an upload's errors get it."""
    return type(exc)(f"{name}: {exc.message}", code=exc.code, status_code=exc.status_code)


class UploadBatch:
    """The files of one upload, each opened, written piece by piece and closed. Too many files are
    refused at the first one too many, an oversized one at its first byte past the limit; the
    blob store's disk thread writes, scans and checks them beside the caller. If anything fails
    the caller aborts the batch, and nothing of the upload is kept."""

    def __init__(self, blobs: LocalBlobStore, rules: UploadRules) -> None:
        self.blobs, self.rules = blobs, rules
        self._writer: BlobWriter | None = None
        self._name = ""
        self._closed: list[tuple[str, BlobWriter, Future[StoredBlob]]] = []  # name, writer, the file to come

    @property
    def writing(self) -> bool:
        """A file is open: its last piece has not come."""
        return self._writer is not None

    def open(self, filename: str | None) -> None:
        rules, n = self.rules, len(self._closed) + 1
        if n > rules.max_files:
            raise InvalidInput(f"Too many files: more than {rules.max_files} sent, at most {rules.max_files} per "
                               "upload", code="too_many_files")
        self._name = display_name(filename, rules.unnamed or f"file-{n}{rules.suffix}")
        self._writer = self.blobs.writer(self.blobs.new_key(rules.prefix, rules.suffix), rules.max_bytes,
                                         too_large_message=too_large(rules.max_bytes),
                                         scan=rules.scan() if rules.scan else None)

    def write(self, piece: bytes) -> None:
        if self._writer is None:
            raise RuntimeError("write() before open()")
        try:
            self._writer.write(piece)
        except ProfAIError as exc:
            raise _for_file(exc, self._name) from None

    def close(self) -> None:
        """The open file's last piece has come; the disk thread finishes and judges it."""
        if self._writer is None:
            raise RuntimeError("close() before open()")
        self._closed.append((self._name, self._writer, self._writer.finish(self.rules.check)))
        self._writer = None

    def add_stream(self, filename: str | None, stream: BinaryIO) -> None:
        self.open(filename)
        while piece := stream.read(COPY_BUFFER):
            self.write(piece)
        self.close()

    def pending(self) -> list[Future[StoredBlob]]:
        """What to wait for before stored()."""
        return [done for _, _, done in self._closed]

    def stored(self) -> list[StoredFile]:
        """The files once pending() are done; the first error among them, if any, is raised."""
        files = []
        for name, _, done in self._closed:
            try:
                files.append(StoredFile(name, done.result()))
            except ProfAIError as exc:
                raise _for_file(exc, name) from None
        return files

    def abort(self) -> list[Future[None]]:
        """Remove every file of the upload, each once the disk thread is done with it; wait for the
        futures to know they are gone."""
        writers = [writer for _, writer, _ in self._closed] + ([self._writer] if self._writer else [])
        self._writer = None
        return [writer.discard() for writer in writers]


def receive(blobs: LocalBlobStore, rules: UploadRules, files: Sequence[IncomingFile]) -> list[StoredFile]:
    """The upload's files in the blob store, judged: as the API received them, or streams copied
    now through an UploadBatch. On an error nothing it copied is kept; files the API stored are
    the caller's to discard."""
    if not files:
        raise InvalidInput(rules.missing, code="no_files")
    received = [f.stored for f in files if f.stored is not None]
    if len(received) == len(files):
        return received
    batch = UploadBatch(blobs, rules)
    try:
        for f in files:
            if f.stream is None or f.stored is not None:
                raise ValueError("an upload's files are all streams or all received by the API")
            batch.add_stream(f.filename, f.stream)
        wait(batch.pending())
        return batch.stored()
    except BaseException:
        wait(batch.abort())
        raise


def discard(blobs: LocalBlobStore, files: Sequence[IncomingFile], stored: Sequence[StoredFile] = ()) -> None:
    """Remove an upload refused after it was stored: the files the API stored, and `stored`."""
    for key in {f.stored.blob.key for f in files if f.stored} | {s.blob.key for s in stored}:
        blobs.delete(key)
