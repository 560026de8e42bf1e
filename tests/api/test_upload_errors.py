"""Bad uploads get a 4xx with a stable code and leave nothing behind."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

import hostile
from factories import make_blank_pdf, make_pdf
from profai.api import create_app
from profai.domain import CLI
from profai.wiring import build_container
from support import ADMIN_HEADERS, make_settings, wait_job


def _stored_files(ctx) -> list:
    root = ctx.blobs.root
    return [p for p in root.rglob("*") if p.is_file()]


def _assert_nothing_left(client, ctx):
    assert client.get("/api/worker-stats").json()["jobs_by_state"] == {}
    assert client.get("/api/courses").json()["total"] == 0
    assert _stored_files(ctx) == []


def _post(client, files, title="Course"):
    data = {"course_title": title} if title is not None else {}
    return client.post("/api/upload-pdfs", data=data, files=[("files", f) for f in files])


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("empty.pdf", b"", 422, "empty_file"),
        ("notes.pdf", b"These are plain text notes, not a PDF at all.\n" * 20, 415, "not_a_pdf"),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, 415, "not_a_pdf"),
        ("broken.pdf", b"%PDF-1.4\n1 0 obj garbage garbage\n", 422, "corrupt_pdf"),
    ],
)
def test_bad_files_are_refused(client, ctx, name, content, status, code):
    resp = _post(client, [(name, content, "application/pdf")])
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code
    assert name in resp.json()["message"]
    _assert_nothing_left(client, ctx)


def test_truncated_pdf_is_refused(client, ctx, tmp_path):
    data = make_pdf(tmp_path / "a.pdf", repeat=3).read_bytes()
    resp = _post(client, [("cut.pdf", data[: len(data) // 2], "application/pdf")])
    assert resp.status_code == 422
    assert resp.json()["code"] == "corrupt_pdf"
    _assert_nothing_left(client, ctx)


def test_encrypted_pdf_is_refused(client, ctx, tmp_path):
    data = make_pdf(tmp_path / "a.pdf", encrypt="secret").read_bytes()
    resp = _post(client, [("locked.pdf", data, "application/pdf")])
    assert resp.status_code == 415
    assert resp.json()["code"] == "encrypted_pdf"
    _assert_nothing_left(client, ctx)


def test_a_good_file_with_a_bad_one_saves_neither(client, ctx, tmp_path):
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    resp = _post(client, [("good.pdf", good, "application/pdf"), ("bad.pdf", b"nope", "application/pdf")])
    assert resp.json()["code"] == "not_a_pdf"
    _assert_nothing_left(client, ctx)


@pytest.mark.parametrize("title", [None, "", "   "])
def test_missing_or_blank_title(client, ctx, tmp_path, title):
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    resp = _post(client, [("a.pdf", good, "application/pdf")], title=title)
    assert resp.status_code == 422
    assert resp.json()["code"] == "missing_course_title"
    _assert_nothing_left(client, ctx)


def test_no_files(client, ctx):
    resp = client.post("/api/upload-pdfs", data={"course_title": "x"})
    assert resp.status_code == 422
    assert resp.json()["code"] == "no_files"


def test_too_many_files(tmp_path):
    s = make_settings(tmp_path / "data", MAX_FILES=2, COMPUTE_PROCESSES=0)
    ctx = build_container(s, compute_processes=0)
    from fastapi.testclient import TestClient

    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        resp = _post(client, [(f"{n}.pdf", good, "application/pdf") for n in range(3)])
        assert resp.status_code == 422
        assert resp.json()["code"] == "too_many_files"
        _assert_nothing_left(client, ctx)
    ctx.close()


def test_oversized_file(tmp_path):
    s = make_settings(tmp_path / "data", MAX_UPLOAD_MB=0.05, COMPUTE_PROCESSES=0)
    ctx = build_container(s, compute_processes=0)
    from fastapi.testclient import TestClient

    big = make_pdf(tmp_path / "a.pdf", repeat=40).read_bytes()
    assert len(big) > 0.05 * 1024 * 1024
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        resp = _post(client, [("big.pdf", big, "application/pdf")])
        assert resp.status_code == 413
        assert resp.json()["code"] == "file_too_large"
        _assert_nothing_left(client, ctx)
    ctx.close()


def test_pdf_without_text_fails_its_job_readably_and_cleans_up(client, ctx, tmp_path):
    blank = make_blank_pdf(tmp_path / "scan.pdf").read_bytes()
    resp = _post(client, [("scan.pdf", blank, "application/pdf")])
    assert resp.status_code == 202
    job = wait_job(client, resp.json()["job_id"])
    assert job["status"] == "failed"
    assert job["error_code"] == "no_text"
    assert "scan.pdf" in job["error"] or "text" in job["error"]
    assert client.get("/api/courses").json()["total"] == 0
    assert _stored_files(ctx) == []


def test_upload_names_are_never_paths(client, ctx, tmp_path):
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    resp = _post(client, [("../../etc/evil.pdf", good, "application/pdf")])
    assert resp.status_code == 202
    job = wait_job(client, resp.json()["job_id"])
    course = client.get(f"/api/courses/{job['result']['course_id']}").json()
    assert course["source_files"][0]["filename"] == "evil.pdf"
    assert all(ctx.blobs.root in p.parents for p in _stored_files(ctx))


@pytest.mark.parametrize(("path", "code"), [("/api/jobs/nope", "job_not_found"), ("/api/courses/999", "course_not_found"),
                                            ("/api/courses/abc", "invalid_input")])
def test_unknown_ids(client, path, code):
    resp = client.get(path)
    assert resp.status_code in (404, 422)
    assert resp.json()["code"] == code


def test_a_body_that_is_not_a_form_is_refused(client, ctx):
    resp = client.post("/api/upload-pdfs", json={"course_title": "Course", "files": ["a.pdf"]})
    assert resp.status_code == 415
    assert resp.json()["code"] == "not_multipart"
    _assert_nothing_left(client, ctx)


def test_malformed_multipart_is_refused_and_nothing_is_kept(client, ctx, tmp_path):
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    part = (b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n" + good)
    headers = {"content-type": "multipart/form-data; boundary=XyZ"}
    # The body stops inside the file: no closing boundary.
    resp = client.post("/api/upload-pdfs", content=part, headers=headers)
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_multipart"
    # Garbage where a part's headers should be.
    resp = client.post("/api/upload-pdfs", content=b"--XyZ\r\n\x00\x01 not a header\r\n\r\n--XyZ--\r\n",
                       headers=headers)
    assert resp.status_code == 422
    assert resp.json()["code"] == "invalid_multipart"
    _assert_nothing_left(client, ctx)


def test_an_overlong_text_field_is_refused(client, ctx, tmp_path):
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    resp = _post(client, [("a.pdf", good, "application/pdf")], title="x" * 100_000)
    assert resp.status_code == 413
    assert resp.json()["code"] == "field_too_large"
    _assert_nothing_left(client, ctx)


def test_endless_text_fields_are_refused(client, ctx, tmp_path):
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    resp = client.post("/api/upload-pdfs", data={"course_title": "Course", **{f"extra{n}": "x" for n in range(200)}},
                       files=[("files", ("a.pdf", good, "application/pdf"))])
    assert resp.status_code == 422
    assert resp.json()["code"] == "too_many_fields"
    _assert_nothing_left(client, ctx)


def test_a_refused_upload_gets_the_same_error_whichever_way_it_arrives(tmp_path):
    """The API and a caller handing over streams (the CLI) go through the same limits, checks
    and file-name prefix."""
    import io

    from fastapi.testclient import TestClient

    from profai.errors import ProfAIError
    from profai.services import courses as course_service
    from profai.services.uploads import IncomingFile

    ctx = build_container(make_settings(tmp_path / "data", MAX_UPLOAD_MB=0.05, MAX_FILES=2, COMPUTE_PROCESSES=0),
                          compute_processes=0)
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    big = make_pdf(tmp_path / "big.pdf", repeat=40).read_bytes()
    uploads = [[("notes.pdf", b"plain text")], [("big.pdf", big)], [("a.pdf", good), ("cut.pdf", good[:-200])],
               [(f"{n}.pdf", good) for n in range(3)]]
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        for files in uploads:
            body = _post(client, [(name, data, "application/pdf") for name, data in files]).json()
            with pytest.raises(ProfAIError) as err:
                course_service.start_course_job(ctx, CLI, "Course", [IncomingFile(n, io.BytesIO(d)) for n, d in files])
            assert {k: body[k] for k in ("code", "message")} == err.value.to_dict(), body
        _assert_nothing_left(client, ctx)
    ctx.close()


# --- hostile input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "status", "code"), [
    (lambda p: hostile.many_pages(p, 20_000), 413, "too_many_pages"),
    (lambda p: hostile.text_bomb(p, megabytes=300), 413, "pdf_too_large"),
    (lambda p: hostile.broken_tree(p, "missing"), 422, "corrupt_pdf"),
])
def test_hostile_pdfs_are_refused_at_upload(client, ctx, tmp_path, make, status, code):
    data = make(tmp_path / "x.pdf").read_bytes()
    resp = _post(client, [("Lecture 3.pdf", data, "application/pdf")])
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code
    assert resp.json()["message"].startswith("Lecture 3.pdf: ")
    _assert_nothing_left(client, ctx)


def test_the_same_pdf_twice_in_one_upload_builds_the_course_once(client, ctx, tmp_path):
    """A file picked twice (here under a second name, as a browser's "(1)" copy) is read once:
    one module set, one source file; it used to fail the job on colliding passage ids."""
    good = make_pdf(tmp_path / "a.pdf").read_bytes()
    resp = _post(client, [("bio.pdf", good, "application/pdf"), ("bio (1).pdf", good, "application/pdf")])
    assert resp.status_code == 202
    job = wait_job(client, resp.json()["job_id"])
    assert job["status"] == "completed", job
    course = client.get(f"/api/courses/{job['result']['course_id']}").json()
    assert [f["filename"] for f in course["source_files"]] == ["bio.pdf"]
    assert job["result"]["pages"] == 3


def test_a_csv_with_too_many_columns_is_refused_at_upload(client, ctx):
    header = ",".join(["id", "title", *(f"extra{n}" for n in range(1000))])
    data = f"{header}\n1,Hello{',x' * 1000}\n".encode()
    resp = client.post("/api/v1/datasets", data={"namespace": "n", "id_column": "id", "text_columns": "title"},
                       files={"file": ("wide.csv", data, "text/csv")})
    assert resp.status_code == 422
    assert resp.json()["code"] == "too_many_columns"
    assert resp.json()["message"].startswith("wide.csv: The header has 1,002 columns")
    assert _stored_files(ctx) == []


def test_a_refused_upload_logs_one_line_and_no_traceback(client, ctx, caplog):
    with caplog.at_level(logging.DEBUG):
        resp = _post(client, [("notes.pdf", b"These are plain text notes, not a PDF.\n" * 50, "application/pdf")])
        assert resp.json()["code"] == "not_a_pdf"
        gc.collect()  # asyncio reports a future whose exception nobody retrieved when it is collected
    assert not [r for r in caplog.records if r.exc_info or "never retrieved" in r.getMessage()]
    refused = [r.getMessage() for r in caplog.records if r.name == "profai.api.multipart"]
    assert len(refused) == 1 and refused[0].startswith("upload refused (415 not_a_pdf): notes.pdf: ")
    _assert_nothing_left(client, ctx)


def test_a_body_that_stalls_gets_408_and_nothing_is_kept(tmp_path):
    """At the ASGI level: a part of a file, then nothing (tests/api/test_slow_clients.py does it
    over a socket to a real server, which also closes the connection)."""
    from starlette.requests import Request

    from profai.api.multipart import receive_upload
    from profai.errors import ProfAIError
    from profai.services.uploads import pdf_uploads
    from profai.stores.blobs import LocalBlobStore

    head = (b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="a.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n")
    pieces = [{"type": "http.request", "body": head, "more_body": True}]

    async def receive() -> dict:
        if pieces:
            return pieces.pop()
        await asyncio.Event().wait()  # the client sends nothing more, and does not hang up
        raise AssertionError("unreachable")

    scope = {"type": "http", "method": "POST", "path": "/api/upload-pdfs", "query_string": b"",
             "headers": [(b"content-type", b"multipart/form-data; boundary=XyZ")]}
    blobs = LocalBlobStore(tmp_path / "blobs")
    rules = pdf_uploads(make_settings(tmp_path / "data", CLIENT_BODY_TIMEOUT=0.2))
    with pytest.raises(ProfAIError) as err:
        asyncio.run(receive_upload(Request(scope, receive), blobs, rules, file_field="files"))
    assert (err.value.status_code, err.value.code) == (408, "request_timeout")
    assert "nothing arrived for 0.2 s" in err.value.message
    assert [p for p in blobs.root.rglob("*") if p.is_file()] == []
