"""Response models of the course's sources (api/routes/sources.py)."""

from __future__ import annotations

from pydantic import BaseModel

from profai.ingest.pdf_pages import Box


class FoundText(BaseModel):
    page: int
    found: bool
    boxes: list[Box]  # over the page image, in fractions (0..1) of its width and height from the top left
