"""Cancelling a running job: its worker stops at its next report, and once it has stopped writing
the one clean-up path removes everything the job wrote. Real PDF and CSV jobs on the local pool,
the real embedding model and embedded Chroma."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import make_csv
from profai.api import create_app
from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Course
from profai.pipelines.csv_to_vectors import DATASET_ID, dataset_collection
from profai.pipelines.pdf_to_course import course_collection
from profai.wiring import Container, build_container
from support import ADMIN_HEADERS, R_MANUALS, job_row, make_settings, wait_until


@pytest.fixture
def app(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data", CHUNK_SIZE=150, BATCH_SIZE=10), compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        yield client, ctx
    ctx.close()


def _files(ctx: Container) -> list[Path]:
    return [p for p in (ctx.settings.data_dir / "uploads").rglob("*") if p.is_file()]


def _cancel_once_writing(client: TestClient, ctx: Container, job_id: str, vectors_written) -> dict:
    """Cancel the job while it runs and has written vectors; wait until its clean-up has run."""
    wait_until(lambda: job_row(ctx.sessions, job_id).status in jobs_repo.RUNNING and vectors_written(), timeout=120,
               message=lambda: f"job {job_id} to write vectors: {job_row(ctx.sessions, job_id).message}")
    resp = client.post(f"/api/jobs/{job_id}/cancel")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "cancelled"
    wait_until(lambda: job_row(ctx.sessions, job_id).cleaned_at, timeout=60, message=f"job {job_id} to be cleaned up")
    return resp.json()


def test_cancelling_a_running_pdf_job_leaves_no_vectors_files_or_course(app):
    client, ctx = app
    pdf = R_MANUALS / "R-intro.pdf"
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs", data={"course_title": "R"},
                           files={"files": ("R-intro.pdf", f, "application/pdf")})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]
    assert _files(ctx), "the upload is stored while the job runs"
    collection = course_collection(job_id)

    _cancel_once_writing(client, ctx, job_id, lambda: ctx.vectors.count(collection) > 0)

    job = job_row(ctx.sessions, job_id)
    assert job.status == "cancelled" and job.lease_owner is None
    assert ctx.vectors.count(collection) == 0
    assert _files(ctx) == []
    with session_scope(ctx.sessions) as session:
        assert session.query(Course).filter_by(job_id=job_id).count() == 0


def test_cancelling_a_running_csv_job_leaves_no_vectors_or_files(app, tmp_path):
    client, ctx = app
    path = make_csv(tmp_path / "catalogue.csv", 1500)
    with path.open("rb") as f:
        resp = client.post("/api/v1/datasets", files={"file": ("catalogue.csv", f, "text/csv")},
                           data={"namespace": "shop", "id_column": "id", "text_columns": "title,description"})
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task_id"]
    collection = dataset_collection("shop")

    _cancel_once_writing(client, ctx, task_id, lambda: ctx.vectors.count(collection) > 0)

    with session_scope(ctx.sessions) as session:
        parts = jobs_repo.parts(session, task_id)
    assert parts and all(p.status in ("completed", "cancelled") and p.lease_owner is None for p in parts)
    assert job_row(ctx.sessions, task_id).status == "cancelled"
    assert ctx.vectors.count(collection) == 0
    assert not [h for h in ctx.vectors.all(collection) if h.metadata.get(DATASET_ID) == task_id]
    assert _files(ctx) == []
