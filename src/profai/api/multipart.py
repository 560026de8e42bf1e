"""Uploads straight from the request body into the blob store.

FastAPI's form parsing spools every file to a temporary file (through a thread per piece once
it passes 1 MB) before the handler can copy it again; under many concurrent uploads that double
handling was most of an upload's cost. Here each file part goes piece by piece into an
UploadBatch, which counts it as it arrives, so an oversized file is refused at the first byte
past the limit and too many files at the first file too many, and hands it to the blob store's
disk thread, which writes and judges it beside the event loop. A client that pauses longer than
CLIENT_BODY_TIMEOUT between two pieces gets 408, and the server closes the connection once the
rest of the body fails to come (serving.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from profai.errors import InvalidInput, PayloadTooLarge, ProfAIError, UnsupportedFile, snippet
from profai.services.uploads import IncomingFile, UploadBatch, UploadRules
from profai.stores.blobs import LocalBlobStore

if TYPE_CHECKING:  # the library defines it for type checkers only
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger(__name__)

MAX_FIELD_BYTES = 64 * 1024
MAX_FIELDS = 100  # with MAX_FIELD_BYTES, bounds what text fields can hold in memory


@dataclass
class UploadForm:
    fields: list[tuple[str, str]] = field(default_factory=list)  # in order; a name may repeat
    files: list[IncomingFile] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


def openapi_body(file_field: str, file_help: str, text_fields: dict[str, str],
                 required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The request body as docs should show it, since the handler reads the body itself; every
    field is required unless `required` names some."""
    properties: dict[str, Any] = {
        file_field: {"type": "array", "items": {"type": "string", "format": "binary"}, "description": file_help}}
    properties |= {name: {"type": "string", "description": help} for name, help in text_fields.items()}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "properties": properties,
                   "required": list(required or (file_field, *text_fields))}}}}}


async def receive_upload(
    request: Request, blobs: LocalBlobStore, rules: UploadRules, *, file_field: str,
) -> UploadForm:
    """Text fields and the files of `file_field`, already saved under new keys and judged by
    `rules`; on any error nothing received is kept. Once it returns, the service that takes the
    files owns them."""
    length = request.headers.get("content-length", "")
    if length.isdigit():  # an obviously oversized body is refused before any of it is read
        rules.check_body(int(length))
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"application/x-www-form-urlencoded":  # a form without files: say what is missing
        # Text fields only (at most MAX_FIELDS of MAX_FIELD_BYTES): a whole-body time limit suffices.
        try:
            async with asyncio.timeout(rules.read_seconds):
                form = await request.form(max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
        except TimeoutError:
            raise _timed_out(rules) from None
        return UploadForm(fields=[(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedFile("Send the upload as multipart/form-data", code="not_multipart")
    batch = UploadBatch(blobs, rules)
    receiver = _Receiver(batch, file_field)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())
    try:
        async for chunk in _pieces(request, rules):
            parser.write(chunk)
        parser.finalize()
        if batch.writing:  # the body ended inside a file part
            raise InvalidInput("The upload ended before its last file did", code="invalid_multipart")
        await _all_done(batch.pending())
        receiver.form.files = [IncomingFile(f.name, stored=f) for f in batch.stored()]
    except BaseException as exc:
        await _all_done(batch.abort())
        if isinstance(exc, FormParserError):
            exc = InvalidInput("The upload is not valid multipart/form-data", code="invalid_multipart")
        if isinstance(exc, ProfAIError):  # one line, no traceback: a refusal is not our error
            log.info("upload refused (%s %s): %s", exc.status_code, exc.code, exc.message)
            raise exc from None
        raise
    return receiver.form


async def _pieces(request: Request, rules: UploadRules) -> AsyncIterator[bytes]:
    """The body's pieces as they come; a pause longer than `rules.read_seconds` between two
    ends the upload with 408. (asyncio.timeout, not wait_for: no task per piece.)"""
    pieces = request.stream().__aiter__()
    while True:
        try:
            async with asyncio.timeout(rules.read_seconds):
                piece = await anext(pieces)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise _timed_out(rules) from None
        yield piece


def _timed_out(rules: UploadRules) -> ProfAIError:
    return ProfAIError(f"The upload stalled: nothing arrived for {rules.read_seconds:g} s. Check the connection "
                       "and upload again.", code="request_timeout", status_code=408)


async def _all_done(futures: Iterable[Future[Any]]) -> None:
    """Wait, beside the event loop, for work of the disk thread. Its errors are read from the
    futures afterwards, by the batch; gathering them here keeps asyncio from logging them."""
    await asyncio.gather(*(asyncio.wrap_future(done) for done in futures), return_exceptions=True)


class _Receiver:
    """The multipart parser's callbacks: text fields into the form, file parts into the batch."""

    def __init__(self, batch: UploadBatch, file_field: str) -> None:
        self.batch, self.file_field = batch, file_field
        self.form = UploadForm()
        self._name = ""
        self._file = False  # the part is a file of file_field
        self._text = bytearray()
        self._header, self._value, self._disposition = b"", b"", b""

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end}

    def _part_begin(self) -> None:
        self._name, self._file = "", False
        self._text.clear()
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise InvalidInput("A part of the upload has no field name", code="invalid_multipart")
        self._name = options[b"name"].decode("utf-8", "replace")
        if b"filename" not in options or self._name != self.file_field:
            # A text field (a stray file under another name is read as text, then bounded).
            if len(self.form.fields) >= MAX_FIELDS:
                raise InvalidInput(f"Too many form fields: at most {MAX_FIELDS}", code="too_many_fields")
            return
        self.batch.open(options[b"filename"].decode("utf-8", "replace"))
        self._file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file:
            self.batch.write(data[start:end])
        elif len(self._text) + end - start > MAX_FIELD_BYTES:
            raise PayloadTooLarge(f"Field {snippet(self._name)} is longer than {MAX_FIELD_BYTES // 1024} KB",
                                  code="field_too_large")
        else:
            self._text += data[start:end]

    def _part_end(self) -> None:
        if self._file:
            self.batch.close()
        else:
            text = self._text.decode("utf-8", "replace")
            if "\x00" in text:  # no field we keep (a title, a column name) may hold a NUL
                raise InvalidInput(f"Field {snippet(self._name)} contains a NUL character", code="invalid_field")
            self.form.fields.append((self._name, text))
