"""See the source: a course's original PDFs, their pages as images, and where a passage is on a
page. Whoever may read the course may see them; anyone else is told the course does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from profai.api.deps import CtxDep, User
from profai.api.errors import responses
from profai.api.ids import CourseId
from profai.schemas.sources import FoundText
from profai.services import sources as source_service

router = APIRouter(prefix="/api", tags=["sources"])

# The images and the PDF change only if the course is rebuilt (new blob keys, new URLs' content):
# a browser may keep them, a shared cache may not (they are some class's material).
IMAGE_CACHE = "private, max-age=86400"
PDF_CACHE = "private, max-age=3600"


@router.get("/courses/{course_id}/files/{file_index}/pdf", response_class=FileResponse, responses=responses(404))
async def download_pdf(ctx: CtxDep, who: User, course_id: CourseId, file_index: int) -> FileResponse:
    """The course's `file_index`-th PDF (0-based, as listed in the course's source_files), as uploaded."""
    source = await run_in_threadpool(source_service.source_file, ctx, who, course_id, file_index)
    name = source.filename if source.filename.lower().endswith(".pdf") else f"{source.filename}.pdf"
    # FileResponse quotes the name (filename*=utf-8''... where it is not plain ASCII).
    return FileResponse(source.path, media_type="application/pdf", filename=name,
                        headers={"Cache-Control": PDF_CACHE})


@router.get("/courses/{course_id}/files/{file_index}/pages/{page}.png", response_class=FileResponse,
            responses=responses(404, 422))
async def page_png(ctx: CtxDep, who: User, course_id: CourseId, file_index: int, page: int,
                   width: Annotated[int, Query(ge=source_service.MIN_WIDTH, le=source_service.MAX_WIDTH,
                                               multiple_of=source_service.WIDTH_STEP,
                                               description="Pixels, 200 to 1600 in steps of 100")
                   ] = source_service.DEFAULT_WIDTH,
                   ) -> FileResponse:
    """Page `page` (1-based, the PDF's own index) as a PNG image `width` pixels wide; drawn once, then cached."""
    path = await run_in_threadpool(source_service.page_image, ctx, who, course_id, file_index, page, width)
    return FileResponse(path, media_type="image/png", headers={"Cache-Control": IMAGE_CACHE})


@router.get("/courses/{course_id}/files/{file_index}/pages/{page}/find", response_model=FoundText,
            responses=responses(404, 422))
async def find_on_page(ctx: CtxDep, who: User, course_id: CourseId, file_index: int, page: int,
                       text: Annotated[str, Query(max_length=source_service.MAX_FIND_CHARS,
                                                  description="The passage; its first words locate it")] = "",
                       ) -> FoundText:
    """Where a passage's text begins on the page (the highlight over the page image); no boxes if it is not there."""
    boxes = await run_in_threadpool(source_service.find_passage, ctx, who, course_id, file_index, page, text)
    return FoundText(page=page, found=bool(boxes), boxes=boxes)
