"""The web UI: `GET /` serves the single page, `GET /static/...` its files from the package's `web/` folder."""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from profai.errors import NotFound

router = APIRouter(tags=["web"], include_in_schema=False)

WEB_DIR = (Path(__file__).resolve().parents[2] / "web").resolve()

# Explicit types: the platform's mimetypes table may lack .js/.mjs or map them oddly, and module
# scripts are refused unless served as JavaScript.
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
               ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json"}

# The page loads nothing from other origins; the policy makes that a rule the browser enforces.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

# Revalidate on every load so a deploy is picked up at once: an unchanged file costs a 304.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class _WebFile:
    stamp: tuple[int, int]  # (mtime_ns, size): the file is read again when it changes, as in development
    body: bytes
    etag: str


_files: dict[Path, _WebFile] = {}


def _web_file(target: Path) -> _WebFile | None:
    """The file's bytes and ETag, from memory while it is unchanged: a page load asks for some 30
    small files, and reading each from disk through a worker thread cost more than the answer."""
    try:
        info = target.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    stamp = (info.st_mtime_ns, info.st_size)
    cached = _files.get(target)
    if cached is None or cached.stamp != stamp:
        body = target.read_bytes()
        cached = _files[target] = _WebFile(stamp, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')
    return cached


def _answer(request: Request, target: Path, extra: dict[str, str] | None = None) -> Response:
    web = _web_file(target)
    if web is None:
        raise NotFound(f"No such file: {request.url.path}")  # the path asked for, never the disk's
    headers = {**HEADERS, **(extra or {}), "ETag": web.etag}
    if web.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(web.body, media_type=MEDIA_TYPES.get(target.suffix.lower(), "application/octet-stream"),
                    headers=headers)


@router.get("/")
async def index(request: Request) -> Response:
    """The single-page app."""
    return _answer(request, WEB_DIR / "index.html", {"Content-Security-Policy": CSP})


@router.get("/static/{path:path}")
async def static(request: Request, path: str) -> Response:
    """A file of the UI; anything outside the web folder, or missing, is a 404."""
    target = (WEB_DIR / path).resolve()
    if not target.is_relative_to(WEB_DIR):
        raise NotFound(f"No such file: /static/{path}")
    return _answer(request, target)
