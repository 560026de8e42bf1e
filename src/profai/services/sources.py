"""See the source: a course's uploaded PDFs, their pages as images and where a passage sits on a
page, for whoever may read the course. The PDFs are the course job's uploads, kept while the
course exists (services/courses.delete_course removes them, and their page images, with it)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.domain import Principal
from profai.errors import InvalidInput, NotFound
from profai.ingest.pdf_pages import Box, PageUnreadable, find_text, render_png
from profai.services import access
from profai.services.deps import HasBlobs, HasSessions, HasSettings
from profai.stores.blobs import LocalBlobStore
from profai.stores.files import file_sha256
from profai.stores.page_images import page_images

log = logging.getLogger(__name__)

# The API refuses other widths and longer passages (api/routes/sources.py). Widths go in steps of
# 100: a reader asking every width from 200 to 1600 would otherwise fill the disk with 1,400
# images of each page.
MIN_WIDTH, MAX_WIDTH, WIDTH_STEP, DEFAULT_WIDTH = 200, 1600, 100, 800
MAX_FIND_CHARS = 500


class SourcesDeps(HasSettings, HasSessions, HasBlobs, Protocol):
    """What this service uses of the wiring."""


@dataclass(frozen=True)
class SourceFile:
    """One uploaded PDF of a course, as the reader may see it."""

    filename: str
    pages: int
    key: str  # its blob key (never shown)
    path: Path


def source_file(ctx: SourcesDeps, who: Principal, course_id: int, file_index: int) -> SourceFile:
    """The course's `file_index`-th PDF (0-based, as in its source_files) if `who` may read the
    course; 404 course_not_found as reading the course would answer, else file_not_found."""
    with session_scope(ctx.sessions) as session:
        course = access.course_for(session, who, course_id)
        sources: list[dict[str, Any]] = list(course.source_files or [])
        job = jobs_repo.get(session, course.job_id) if course.job_id else None
        uploads: list[dict[str, Any]] = list(job.payload.get("files", [])) if job is not None else []
    if not 0 <= file_index < len(sources):
        raise NotFound(f"Course {course_id} has no file {file_index} (it has {len(sources)})", code="file_not_found")
    source = sources[file_index]
    key = _upload_of(ctx.blobs, uploads, sources, file_index)
    path = ctx.blobs.path(key) if key is not None else None
    if key is None or path is None or not path.is_file():
        # An imported course, or one whose upload was lost: the text is there, the PDF is not.
        raise NotFound(f"The original PDF of {source.get('filename', 'this file')} is not kept",
                       code="file_not_found")
    return SourceFile(str(source.get("filename") or f"file-{file_index + 1}.pdf"), int(source.get("pages") or 0),
                      key, path)


def page_image(ctx: SourcesDeps, who: Principal, course_id: int, file_index: int, page: int,
               width: int = DEFAULT_WIDTH) -> Path:
    """The file of page `page` (1-based) drawn `width` pixels wide: from the cache, or drawn now
    (in the caller's thread: the API calls this off the event loop) and cached."""
    source = source_file(ctx, who, course_id, file_index)
    _check_page(source, page)
    cache = page_images(ctx.settings.data_dir, ctx.settings.page_cache_mb)
    cached = cache.get(source.key, page, width)
    if cached is not None:
        return cached
    try:
        png = render_png(source.path, page, width)
    except PageUnreadable:
        log.warning("page %s of %s (course %s) could not be drawn", page, source.key, course_id, exc_info=True)
        raise InvalidInput(f"Page {page} of {source.filename} could not be drawn", code="page_unreadable") from None
    return cache.put(source.key, page, width, png)


def find_passage(ctx: SourcesDeps, who: Principal, course_id: int, file_index: int, page: int, text: str
                 ) -> list[Box]:
    """Where `text` (a cited passage, a lesson's first words) begins on the page: boxes in fractions
    of the page, none when it is not found there."""
    source = source_file(ctx, who, course_id, file_index)
    _check_page(source, page)
    try:
        return find_text(source.path, page, text)
    except PageUnreadable:
        log.warning("page %s of %s (course %s) could not be read", page, source.key, course_id, exc_info=True)
        return []  # the page is still shown; only its highlight is missing


def _check_page(source: SourceFile, page: int) -> None:
    if not 1 <= page <= source.pages:
        raise NotFound(f"{source.filename} has no page {page} (it has pages 1 to {source.pages})",
                       code="page_not_found")


def _upload_of(blobs: LocalBlobStore, uploads: list[dict[str, Any]], sources: list[dict[str, Any]], index: int
               ) -> str | None:
    """The blob key of source `index`. The course lists its files in upload order without the
    copies of a file uploaded twice (pipelines/pdf_to_course._unique): with no copies the
    positions agree, else the upload is the one with the file's sha256."""
    if len(uploads) == len(sources):
        return str(uploads[index]["key"])
    wanted = sources[index].get("sha256")
    for upload in uploads:
        path = blobs.path(upload["key"])
        if wanted and path.is_file() and _sha256(path) == wanted:
            return str(upload["key"])
    return None


# Uploads never change under their key (its path): each is hashed once.
_sha256 = functools.lru_cache(maxsize=10_000)(file_sha256)
