"""Receiving files: stream to the blob store under a generated key, judge them by content."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from profai.errors import InvalidInput, ProfAIError
from profai.stores.blobs import LocalBlobStore


@dataclass
class IncomingFile:
    filename: str | None
    stream: BinaryIO


def display_name(filename: str | None, fallback: str) -> str:
    """A safe label for an uploaded file: its base name, printable, at most 120 characters."""
    name = unicodedata.normalize("NFC", (filename or "").replace("\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[:120] or fallback


def save_uploads(
    blobs: LocalBlobStore, files: list[IncomingFile], *, prefix: str, suffix: str, max_bytes: int,
    max_files: int, check: Callable[[Path], dict[str, Any]],
) -> list[dict[str, Any]]:
    """Save and check every file, or none: on any error the ones saved so far are removed."""
    if not files:
        raise InvalidInput("No file was uploaded: send one or more files in the `files` field", code="no_files")
    if len(files) > max_files:
        raise InvalidInput(f"Too many files: {len(files)} sent, at most {max_files} per upload",
                           code="too_many_files")
    saved: list[dict[str, Any]] = []
    try:
        for n, f in enumerate(files, start=1):
            name = display_name(f.filename, f"file-{n}{suffix}")
            key = blobs.new_key(prefix, suffix)
            limit_mb = max_bytes / 1024 / 1024
            try:
                size, sha = blobs.save_stream(
                    key, f.stream, max_bytes, too_large_message=f"{name} is larger than the {limit_mb:g} MB limit"
                )
                saved.append({"key": key, "filename": name, "size": size, "sha256": sha})
                saved[-1].update(check(blobs.path(key)))
            except ProfAIError as exc:
                raise type(exc)(f"{name}: {exc.message}", code=exc.code, status_code=exc.status_code) from None
    except BaseException:
        for item in saved:
            blobs.delete(item["key"])
        raise
    return saved
