"""See the source: a course's original PDFs, their pages as PNG images (drawn once, then cached)
and where a passage sits on a page, through the API, on a real PDF; and what hostile parameters get."""

from __future__ import annotations

import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from factories import make_pdf
from profai.api import create_app
from profai.domain import TEACHER
from profai.wiring import build_container
from support import ADMIN_HEADERS, job_row, make_settings, upload_course, user_with_key, wait_job
from textbook import make_textbook

PNG = b"\x89PNG\r\n\x1a\n"
FUNCTIONS = ("A function packages instructions under a name so that a program can run them many times. "
             "The body of a function is indented below its first line")  # two lines on page 5


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    ctx = build_container(make_settings(root / "data"), compute_processes=0)
    ctx.runner.start()
    book = make_textbook(root / "book.pdf")
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        client.course_id = upload_course(client, book.path, "Programming")
        client.book, client.root, client.ctx = book, root, ctx
        yield client
    ctx.close()


def _base(world, file_index: int = 0) -> str:
    return f"/api/courses/{world.course_id}/files/{file_index}"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _teacher_headers(ctx) -> dict[str, str]:
    return {"X-API-Key": user_with_key(ctx, TEACHER)[1]}


def test_the_original_pdf_can_be_downloaded_as_uploaded(world):
    resp = world.get(f"{_base(world)}/pdf")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["content-disposition"] == 'attachment; filename="book.pdf"'
    assert _sha(resp.content) == _sha(world.book.path.read_bytes())
    assert resp.headers["cache-control"].startswith("private")


def test_a_page_is_a_png_of_the_width_asked_and_is_drawn_once(world):
    url = f"{_base(world)}/pages/5.png?width=400"
    first = world.get(url)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "image/png"
    assert first.content.startswith(PNG)
    image = Image.open(io.BytesIO(first.content))
    assert image.width == 400 and image.height > 400  # A4 stands upright
    cached = list((world.root / "data" / "page-images").rglob("5-400.png"))
    assert len(cached) == 1
    again = world.get(url)
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["cache-control"].startswith("private")
    default = world.get(f"{_base(world)}/pages/5.png")
    assert Image.open(io.BytesIO(default.content)).width == 800


def test_find_gives_boxes_over_the_passage_and_none_where_it_is_not(world):
    resp = world.get(f"{_base(world)}/pages/5/find", params={"text": FUNCTIONS})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["found"] is True and body["page"] == 5
    assert len(body["boxes"]) == 2  # the sentence runs over two lines of the page
    for box in body["boxes"]:
        assert 0 <= box["x"] < box["x"] + box["w"] <= 1 and 0 <= box["y"] < box["y"] + box["h"] <= 1
    # Spaces, line breaks and case do not matter: only letters and digits locate a passage.
    squashed = world.get(f"{_base(world)}/pages/5/find", params={"text": FUNCTIONS.upper().replace(" ", "\n ")})
    assert squashed.json() == body
    elsewhere = world.get(f"{_base(world)}/pages/4/find", params={"text": FUNCTIONS}).json()
    assert elsewhere == {"page": 4, "found": False, "boxes": []}
    assert world.get(f"{_base(world)}/pages/5/find", params={"text": "  "}).json()["found"] is False
    assert world.get(f"{_base(world)}/pages/5/find").json()["found"] is False  # nothing to look for


@pytest.mark.parametrize("page", ["0", "-1", "9999", str(2**70)])
def test_a_page_outside_the_file_is_a_404(world, page):
    for url in (f"{_base(world)}/pages/{page}.png", f"{_base(world)}/pages/{page}/find?text=values"):
        resp = world.get(url)
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == "page_not_found"


@pytest.mark.parametrize("width", ["0", "-800", "199", "1601", "850", str(10**12), "1e3", "abc", ""])
def test_a_width_outside_200_to_1600_in_steps_of_100_is_a_422(world, width):
    resp = world.get(f"{_base(world)}/pages/5.png?width={width}")
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] in ("invalid_width", "invalid_input")


@pytest.mark.parametrize("suffix", ["pdf", "pages/1.png", "pages/1/find?text=values"])
@pytest.mark.parametrize("file_index", ["1", "-1", str(2**70)])
def test_a_file_the_course_does_not_have_is_a_404(world, suffix, file_index):
    resp = world.get(f"{_base(world, file_index)}/{suffix}")
    assert resp.status_code == 404, resp.text
    assert resp.json()["code"] == "file_not_found"


@pytest.mark.parametrize("path", ["pages/x.png", "pages/1.5.png", "pages/abc/find?text=x",
                                  "pages/1.jpg"])
def test_malformed_page_addresses_are_4xx(world, path):
    resp = world.get(f"{_base(world)}/{path}")
    assert resp.status_code in (404, 422), resp.text


def test_a_passage_longer_than_500_characters_is_refused(world):
    resp = world.get(f"{_base(world)}/pages/5/find", params={"text": "a" * 501})
    assert resp.status_code == 422 and resp.json()["code"] in ("text_too_long", "invalid_input")
    assert world.get(f"{_base(world)}/pages/5/find", params={"text": "a" * 500}).status_code == 200


def test_a_course_you_may_not_read_is_not_found_and_no_answer_names_a_storage_path(world):
    stranger = _teacher_headers(world.ctx)
    answers = []
    for suffix in ("pdf", "pages/1.png", "pages/1/find?text=values"):
        resp = world.get(f"{_base(world)}/{suffix}", headers=stranger)
        assert resp.status_code == 404 and resp.json()["code"] == "course_not_found"
        assert world.get(f"{_base(world)}/{suffix}", headers={"X-API-Key": ""}).status_code == 401
        answers.append(resp.text)
    for suffix in ("pages/0.png", "pages/1.png?width=5", "pdf", "pages/1/find?text=" + "b" * 600):
        answers.append(world.get(f"{_base(world, 3)}/{suffix}").text)
    data_dir = str(world.root / "data")
    assert not [a for a in answers if data_dir in a or "uploads" in a or "pdfs/" in a]


def test_a_stored_pdf_pdfium_cannot_open_is_a_422_for_its_pages_and_no_highlight(world, tmp_path):
    bio = make_pdf(tmp_path / "bio.pdf")
    with bio.open("rb") as f:
        job_id = world.post("/api/upload-pdfs", data={"course_title": "Damaged"},
                            files=[("files", ("bio.pdf", f, "application/pdf"))]).json()["job_id"]
    course_id = wait_job(world, job_id)["result"]["course_id"]
    stored = world.ctx.blobs.path(job_row(world.ctx.sessions, job_id).payload["files"][0]["key"])
    stored.write_bytes(b"%PDF-1.7\n" + b"\x00" * 64)  # damaged on disk after it was read
    base = f"/api/courses/{course_id}/files/0"
    image = world.get(f"{base}/pages/1.png?width=200")
    assert image.status_code == 422 and image.json()["code"] == "page_unreadable"
    assert str(world.root) not in image.text
    found = world.get(f"{base}/pages/1/find", params={"text": "cells are the units of life"})
    assert found.status_code == 200 and found.json() == {"page": 1, "found": False, "boxes": []}
    assert world.delete(f"/api/courses/{course_id}").status_code == 204  # the module's other tests count uploads


def test_copies_of_one_upload_do_not_shift_the_files_and_deleting_the_course_removes_pdfs_and_pages(world, tmp_path):
    bio = make_pdf(tmp_path / "bio.pdf")
    with bio.open("rb") as a, bio.open("rb") as copy, world.book.path.open("rb") as b:
        job_id = world.post("/api/upload-pdfs", data={"course_title": "Mixed"},
                            files=[("files", ("bio.pdf", a, "application/pdf")),
                                   ("files", ("bio-again.pdf", copy, "application/pdf")),
                                   ("files", ("book.pdf", b, "application/pdf"))]).json()["job_id"]
    course_id = wait_job(world, job_id)["result"]["course_id"]
    files = world.get(f"/api/courses/{course_id}").json()["source_files"]
    assert [f["filename"] for f in files] == ["bio.pdf", "book.pdf"]  # the copy is read once
    book = world.get(f"/api/courses/{course_id}/files/1/pdf")
    assert _sha(book.content) == _sha(world.book.path.read_bytes())
    assert world.get(f"/api/courses/{course_id}/files/1/pages/2.png?width=200").status_code == 200

    images = world.root / "data" / "page-images"
    before = {p.parent for p in images.rglob("*.png")}
    assert world.delete(f"/api/courses/{course_id}").status_code == 204
    after = {p.parent for p in images.rglob("*.png")}
    assert len(before - after) == 1  # this course's folder of page images, not the other course's
    assert world.get(f"/api/courses/{course_id}/files/1/pdf").status_code == 404
    left = [_sha(p.read_bytes()) for p in (world.root / "data" / "uploads").rglob("*.pdf")]
    assert left == [_sha(world.book.path.read_bytes())]  # the first course's book; both copies of bio are gone
