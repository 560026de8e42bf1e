"""Receiving files: stream to the blob store under a generated key, judge them by content."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, BinaryIO

from profai.errors import InvalidInput, ProfAIError
from profai.stores.blobs import Check, LocalBlobStore, StoredBlob


@dataclass
class IncomingFile:
    """A file arriving as a stream, or one the API already streamed into the blob store and
    checked with the same check the service would use."""

    filename: str | None
    stream: BinaryIO | None = None
    stored: StoredBlob | None = None


def too_large(max_bytes: int) -> str:
    return f"larger than the {max_bytes / 1024 / 1024:g} MB limit"


def display_name(filename: str | None, fallback: str) -> str:
    """A safe label for an uploaded file: its base name, printable, at most 120 characters."""
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:120] or fallback


def for_file(exc: ProfAIError, name: str) -> ProfAIError:
    """The same error, saying which file it is about."""
    return type(exc)(f"{name}: {exc.message}", code=exc.code, status_code=exc.status_code)


def save_uploads(
    blobs: LocalBlobStore, files: list[IncomingFile], *, prefix: str, suffix: str, max_bytes: int,
    max_files: int, check: Check,
) -> list[dict[str, Any]]:
    """Save and check every file, or none: on any error the copies made so far are removed."""
    saved: list[dict[str, Any]] = []
    try:
        if not files:
            raise InvalidInput("No file was uploaded: send one or more files in the `files` field", code="no_files")
        if len(files) > max_files:
            raise InvalidInput(f"Too many files: {len(files)} sent, at most {max_files} per upload",
                               code="too_many_files")
        for n, f in enumerate(files, start=1):
            name = display_name(f.filename, f"file-{n}{suffix}")
            try:
                blob = store(blobs, f, prefix, suffix, max_bytes, check)
            except ProfAIError as exc:
                raise for_file(exc, name) from None
            saved.append({"key": blob.key, "filename": name, "size": blob.size, **blob.facts})
    except BaseException:
        # The copies made here go; files the API stored already are the caller's to discard.
        discard(blobs, [], [item["key"] for item, f in zip(saved, files) if f.stored is None])
        raise
    return saved


def discard(blobs: LocalBlobStore, files: list[IncomingFile], keys: list[str] = ()) -> None:
    """Remove an upload that was refused: the files the API stored, and any other keys given."""
    for key in {f.stored.key for f in files if f.stored} | set(keys):
        blobs.delete(key)


def store(blobs: LocalBlobStore, f: IncomingFile, prefix: str, suffix: str, max_bytes: int,
          check: Check | None = None) -> StoredBlob:
    """The file in the blob store, checked: where the API streamed it, or copied there now."""
    if f.stored is not None:
        return f.stored
    return blobs.save_stream(blobs.new_key(prefix, suffix), f.stream, max_bytes,
                             too_large_message=too_large(max_bytes), check=check)
