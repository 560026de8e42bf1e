"""Uploads straight from the request body into the blob store.

FastAPI's form parsing spools every file to a temporary file (through a thread per piece once
it passes 1 MB) before the handler can copy it again; under many concurrent uploads that double
handling was most of an upload's cost. Here each file part is counted as it arrives, so an
oversized file is refused at the first byte past the limit and too many files at the first file
too many, and handed to the blob store's disk thread, which writes and checks it beside the
event loop."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from profai.errors import InvalidInput, PayloadTooLarge, ProfAIError, UnsupportedFile
from profai.services.uploads import IncomingFile, discard, display_name, for_file, too_large
from profai.stores.blobs import BlobWriter, Check, LocalBlobStore, StoredBlob

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


def openapi_body(file_field: str, file_help: str, text_fields: dict[str, str], required: tuple[str, ...] = ()) -> dict:
    """The request body as docs should show it, since the handler reads the body itself; every
    field is required unless `required` names some."""
    properties = {file_field: {"type": "array", "items": {"type": "string", "format": "binary"},
                               "description": file_help}}
    properties |= {name: {"type": "string", "description": help} for name, help in text_fields.items()}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "properties": properties,
                   "required": list(required or (file_field, *text_fields))}}}}}


async def receive_upload(
    request: Request, blobs: LocalBlobStore, *, file_field: str, prefix: str, suffix: str, max_bytes: int,
    max_files: int, check: Check | None = None,
) -> UploadForm:
    """Text fields and the files of `file_field`, already saved under new keys and judged by
    `check`; on any error nothing received is kept. Once it returns, the service that takes the
    files owns them."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type == b"application/x-www-form-urlencoded":  # a form without files: say what is missing
        form = await request.form(max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
        return UploadForm(fields=[(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedFile("Send the upload as multipart/form-data", code="not_multipart")
    receiver = _Receiver(blobs, file_field, prefix, suffix, max_bytes, max_files, check)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if receiver.writer is not None:  # the body ended inside a file part
            raise InvalidInput("The upload ended before its last file did", code="invalid_multipart")
        await receiver.finished()
    except BaseException as exc:
        await receiver.abort()
        if isinstance(exc, FormParserError):
            raise InvalidInput("The upload is not valid multipart/form-data", code="invalid_multipart") from None
        raise
    return receiver.form


class _Receiver:
    def __init__(self, blobs: LocalBlobStore, file_field: str, prefix: str, suffix: str, max_bytes: int,
                 max_files: int, check: Check | None):
        self.blobs, self.file_field, self.prefix, self.suffix = blobs, file_field, prefix, suffix
        self.max_bytes, self.max_files, self.check = max_bytes, max_files, check
        self.form = UploadForm()
        self.writer: BlobWriter | None = None
        # Files whose last bytes arrived: filename, label for errors, key, the stored file to come.
        self.finishing: list[tuple[str | None, str, str, Future[StoredBlob]]] = []
        self._name = self._filename = self._label = None
        self._text = bytearray()
        self._header, self._value, self._disposition = b"", b"", b""

    def callbacks(self) -> dict:
        return {"on_part_begin": self._part_begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end}

    def _part_begin(self) -> None:
        self._name = self._filename = None
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
        if len(self.finishing) >= self.max_files:
            raise InvalidInput(f"Too many files: more than {self.max_files} sent, at most {self.max_files} per upload",
                               code="too_many_files")
        self._filename = options[b"filename"].decode("utf-8", "replace")
        self._label = display_name(self._filename, f"file-{len(self.finishing) + 1}{self.suffix}")
        self.writer = self.blobs.writer(self.blobs.new_key(self.prefix, self.suffix), self.max_bytes,
                                        too_large_message=f"{self._label}: {too_large(self.max_bytes)}")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.writer is not None:
            self.writer.write(data[start:end])
        elif len(self._text) + end - start > MAX_FIELD_BYTES:
            raise PayloadTooLarge(f"Field {self._name} is longer than {MAX_FIELD_BYTES // 1024} KB",
                                  code="field_too_large")
        else:
            self._text += data[start:end]

    def _part_end(self) -> None:
        if self.writer is None:
            self.form.fields.append((self._name, self._text.decode("utf-8", "replace")))
            return
        self.finishing.append((self._filename, self._label, self.writer.key, self.writer.finish(self.check)))
        self.writer = None

    async def finished(self) -> None:
        """Wait for the files to be written and checked; each then joins the form."""
        for filename, label, _, done in self.finishing:
            try:
                stored = await asyncio.wrap_future(done)
            except ProfAIError as exc:
                raise for_file(exc, label) from None
            self.form.files.append(IncomingFile(filename, stored=stored))

    async def abort(self) -> None:
        """Remove every file of the upload, once the disk thread is done with it."""
        pending = [done for *_, done in self.finishing]
        if self.writer is not None:
            pending.append(self.writer.discard())
            self.writer = None
        if pending:
            await asyncio.wait([asyncio.wrap_future(done) for done in pending])
        discard(self.blobs, [], [key for _, _, key, _ in self.finishing])

