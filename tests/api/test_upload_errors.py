"""Bad uploads get a 4xx with a stable code and leave nothing behind."""

from __future__ import annotations

import pytest

from factories import make_blank_pdf, make_pdf
from profai.api import create_app
from profai.wiring import build_container
from support import make_settings, wait_job


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
    with TestClient(create_app(ctx=ctx)) as client:
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
    with TestClient(create_app(ctx=ctx)) as client:
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
