"""The web UI: `GET /` serves the single page, `GET /static/...` its files from the package's `web/` folder."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

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

# Revalidate on every load so a deploy is picked up at once; the files are small.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@router.get("/")
def index() -> FileResponse:
    """The single-page app."""
    return FileResponse(WEB_DIR / "index.html", media_type=MEDIA_TYPES[".html"],
                        headers={**HEADERS, "Content-Security-Policy": CSP})


@router.get("/static/{path:path}")
def static(path: str) -> FileResponse:
    """A file of the UI; anything outside the web folder, or missing, is a 404."""
    target = (WEB_DIR / path).resolve()
    if not target.is_relative_to(WEB_DIR) or not target.is_file():
        raise NotFound(f"No such file: /static/{path}")
    return FileResponse(target, media_type=MEDIA_TYPES.get(target.suffix.lower()), headers=HEADERS)
