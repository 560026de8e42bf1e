"""`profai doctor` finds vectors and uploaded files that belong to no job or course, and jobs
whose clean-up has not finished; `--fix` removes them and leaves everything in use alone. Real
parts: a `chroma run` server, the local model and pool, SQLite, and the CLI as a process."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from chroma_server import ChromaServer
from fastapi.testclient import TestClient

from factories import make_csv, make_pdf
from procs import PROFAI
from profai.api import create_app
from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.pipelines.csv_to_vectors import dataset_collection
from profai.pipelines.pdf_to_course import course_collection
from profai.wiring import build_container
from support import ADMIN_HEADERS, TEST_ADMIN_KEY, make_settings, wait_job

pytestmark = pytest.mark.slow
HOURS_AGO = time.time() - 2 * 3600  # older than the default grace of an hour


def _doctor(tmp_path: Path, chroma: ChromaServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROFAI_DATA_DIR": str(tmp_path / "data"), "CHROMA_URL": chroma.url,
           "ENVIRONMENT": "test", "API_KEY": TEST_ADMIN_KEY}
    return subprocess.run([*PROFAI, "doctor", *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def _upload(client: TestClient, pdf: Path, title: str) -> dict:
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs", data={"course_title": title},
                           files={"files": (pdf.name, f, "application/pdf")})
    return wait_job(client, resp.json()["job_id"])


def _dataset(client: TestClient, path: Path) -> str:
    with path.open("rb") as f:
        resp = client.post("/api/v1/datasets", files={"file": (path.name, f, "text/csv")},
                           data={"namespace": "shop", "id_column": "id", "text_columns": "title"})
    task_id = resp.json()["task_id"]
    assert wait_job(client, task_id, path="/api/v1/tasks/")["status"] == "completed"
    return task_id


@pytest.fixture
def ctx(tmp_path, chroma):
    container = build_container(make_settings(tmp_path / "data", CHROMA_URL=chroma.url, ORPHAN_SWEEP_SECONDS=0),
                                compute_processes=0)
    container.runner.start()
    yield container
    container.close()


def test_doctor_reports_then_fixes_orphans_and_keeps_what_is_used(tmp_path, chroma, ctx):
    uploads = ctx.settings.data_dir / "uploads"
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        pdf = make_pdf(tmp_path / "bio.pdf", repeat=2)
        kept, gone = _upload(client, pdf, "Kept"), _upload(client, pdf, "Gone")
        kept_rows = _dataset(client, make_csv(tmp_path / "kept.csv", 30))
        gone_rows = _dataset(client, make_csv(tmp_path / "gone.csv", 0, extra=[
            [f"gone-{n}", f"Gone lesson {n}", "text", "music", "beginner"] for n in range(20)]))
        with session_scope(ctx.sessions) as session:
            gone_keys = {f["key"] for f in jobs_repo.get(session, gone["job_id"]).payload["files"]}
            gone_keys.add(datasets_repo.get(session, gone_rows).blob_key)
        # Deleted while Chroma was down: the vectors and files stay behind (no reaper sweeps here).
        chroma.kill()
        assert client.delete(f"/api/courses/{gone['result']['course_id']}").status_code == 204
        assert client.delete(f"/api/v1/datasets/{gone_rows}").status_code == 204
        chroma.start()
    ctx.runner.stop()  # a quiet deployment: what the doctor finds stays until it fixes it

    # What a crash could leave: a course collection whose job never was, part files of a dataset
    # that is gone, an upload that no job took; and a job that failed before its clean-up ran.
    stray = course_collection(str(uuid.uuid4()))
    ctx.vectors.upsert(stray, ["a", "b"], [[1.0, 0.0], [0.0, 1.0]], ["a", "b"], [{}, {}])
    ctx.vectors.upsert("notes", ["n"], [[1.0, 0.0]], ["not ours"], [{}])  # not ProfAI's: left alone
    lost_parts = uploads / "datasets" / str(uuid.uuid4()) / "parts" / "000000.jsonl"
    for path in (lost_parts, uploads / "pdfs" / "stray.pdf", uploads / "pdfs" / "unclean.pdf"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4 left behind")
    with session_scope(ctx.sessions) as session:
        unclean = jobs_repo.create(session, "course", {"course_title": "Crashed", "files": [
            {"key": "pdfs/unclean.pdf", "filename": "unclean.pdf"}]}).id
    with session_scope(ctx.sessions) as session:
        assert jobs_repo.claim(session, unclean, "test:1:a", 30)
        assert jobs_repo.finish(session, unclean, "test:1:a", jobs_repo.FAILED, error="boom", error_code="x")
    for path in uploads.rglob("*"):
        os.utime(path, (HOURS_AGO, HOURS_AGO))
    young = uploads / "pdfs" / "young.pdf"  # an upload whose job is not committed yet
    young.write_bytes(b"%PDF-1.4 arriving")
    kept_files = {p for p in uploads.rglob("*") if p.is_file()} - {lost_parts, uploads / "pdfs" / "stray.pdf",
                                                                  uploads / "pdfs" / "unclean.pdf"} \
        - {uploads / k for k in gone_keys} - set((uploads / "datasets" / gone_rows).rglob("*"))
    shop, gone_collection = dataset_collection("shop"), course_collection(gone["job_id"])
    assert ctx.vectors.count(shop) == 50 and ctx.vectors.count(gone_collection) > 0

    report = _doctor(tmp_path, chroma)
    assert report.returncode == 1, report.stdout + report.stderr
    lines = report.stdout.splitlines()
    expected = [f"collection {gone_collection}:", f"collection {stray}: 2 vectors",
                f"collection {shop}: vectors of deleted dataset {gone_rows}", "file pdfs/stray.pdf:",
                f"file {lost_parts.relative_to(uploads).as_posix()}:", f"job {unclean}:",
                *(f"file {key}:" for key in gone_keys)]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, report.stdout)
    assert "young.pdf" not in report.stdout and "notes" not in report.stdout
    assert not any(kept["job_id"] in line or kept_rows in line for line in lines), report.stdout
    # Reporting removes nothing.
    assert stray in ctx.vectors.collections() and ctx.vectors.count(shop) == 50 and lost_parts.exists()

    fixed = _doctor(tmp_path, chroma, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "Nothing left to clean up." in fixed.stdout
    names = ctx.vectors.collections()
    assert stray not in names and gone_collection not in names
    assert ctx.vectors.count(shop) == 30  # the deleted dataset's 20 rows went, the kept one's stayed
    assert {p for p in uploads.rglob("*") if p.is_file()} == kept_files | {young}
    assert not (uploads / "datasets" / gone_rows).exists() and not lost_parts.parent.parent.exists()
    with session_scope(ctx.sessions) as session:
        assert jobs_repo.get(session, unclean).cleaned_at is not None
    # Everything in use is as it was.
    assert ctx.vectors.count(course_collection(kept["job_id"])) == kept["result"]["passages"]
    assert ctx.vectors.count("notes") == 1

    again = _doctor(tmp_path, chroma)
    assert again.returncode == 0 and "Nothing left to clean up." in again.stdout, again.stdout


def test_doctor_refuses_a_grace_that_is_not_a_number_of_seconds(tmp_path, chroma):
    # A negative grace would make a file arriving now look old; NaN would compare as neither.
    arriving = tmp_path / "data" / "uploads" / "pdfs" / "arriving.pdf"  # no job holds it yet
    arriving.parent.mkdir(parents=True)
    arriving.write_bytes(b"%PDF-1.4 arriving")
    for grace in ("-1", "nan", "1e999", "ten"):  # 1e999: infinity
        result = _doctor(tmp_path, chroma, "--fix", "--grace", grace)
        assert result.returncode == 2, (grace, result.stdout + result.stderr)
        assert "Traceback" not in result.stdout + result.stderr, grace
        assert arriving.exists(), grace
    assert _doctor(tmp_path, chroma, "--grace", "0").returncode == 1  # the stray file, reported
