"""`profai backup` of a live server, `profai restore` into an empty deployment, and the restored
server answering as the original did: the same courses, search results, chat answers, quizzes and
attempts. SQLite with embedded Chroma; PostgreSQL with a Chroma server, restored into another
PostgreSQL database and a Chroma Cloud tenant (a local Chroma server standing in for the cloud)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
from chroma_kit import collections, make_tenant

from factories import make_csv, make_pdf
from procs import PROFAI, kill_group, poll_job, start_server
from profai.pipelines.pdf_to_course import course_collection
from support import R_MANUALS, admin_http, plugins_env

pytestmark = pytest.mark.slow

# A job the backup caught mid-run is taken up again once its lease runs out after the restore; long
# enough that on a busy machine no job of the live server is taken from a worker that still runs it.
LEASES = {"JOB_LEASE_SECONDS": "20", "JOB_HEARTBEAT_SECONDS": "2", "REAPER_INTERVAL_SECONDS": "1",
          "MAX_WORKERS": "2"}
# What a dataset task's status says of its data (not when its row was last touched).
TASK_FACTS = ("task_id", "namespace", "filename", "status", "total_rows", "processed_rows", "failed_rows", "parts",
              "errors", "created_at")


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([*PROFAI, *args], env={**os.environ, **env, "COLUMNS": "200"}, capture_output=True,
                          text=True, timeout=600)


def _upload_pdf(base: str, pdf: Path, title: str) -> str:
    with pdf.open("rb") as f:
        resp = admin_http.post(f"{base}/api/upload-pdfs", data={"course_title": title},
                               files={"files": (pdf.name, f, "application/pdf")})
    assert resp.status_code == 202, resp.text
    return resp.json()["job_id"]


def _build(base: str, tmp: Path) -> dict:
    """A course, a dataset, a chat exchange and a quiz attempt, made through the API."""
    course_job = poll_job(base, _upload_pdf(base, make_pdf(tmp / "biology.pdf"), "Biology"), timeout=240)
    assert course_job["status"] == "completed", course_job
    course_id = course_job["result"]["course_id"]

    with make_csv(tmp / "catalogue.csv", 60).open("rb") as f:
        resp = admin_http.post(f"{base}/api/v1/datasets", files={"file": ("catalogue.csv", f, "text/csv")},
                               data={"namespace": "catalogue", "id_column": "id", "text_columns": "title,description",
                                     "metadata_columns": ["topic", "level"]})
    assert resp.status_code == 202, resp.text
    task = poll_job(base, resp.json()["task_id"], timeout=240, path="/api/v1/tasks/")
    assert task["status"] == "completed", task

    chat = admin_http.post(f"{base}/api/chat", json={"course_id": course_id,
                                                     "question": "What does chlorophyll absorb?"}).json()
    assert chat["grounded"], chat
    quiz = admin_http.post(f"{base}/api/courses/{course_id}/quizzes", json={"questions": 3, "seed": 5}).json()
    attempt = admin_http.post(f"{base}/api/quizzes/{quiz['quiz_id']}/attempts",
                              json={"answers": {q["id"]: 1 for q in quiz["questions"]}, "student": "ada"})
    assert attempt.status_code == 201, attempt.text
    return {"course_id": course_id, "course_job": course_job["job_id"], "task_id": task["task_id"],
            "session_id": chat["session_id"], "quiz_id": quiz["quiz_id"]}


def _observe(base: str, made: dict, late_job: str) -> dict:
    """What a user sees of everything `_build` made, and of the course whose job the backup caught
    running (once its job has finished)."""
    late = poll_job(base, late_job, timeout=240)
    assert late["status"] == "completed", late
    ask = lambda **body: admin_http.post(f"{base}/api/chat", json=body).json()  # noqa: E731
    course_id = made["course_id"]
    late_course = admin_http.get(f"{base}/api/courses/{late['result']['course_id']}").json()
    return {
        "courses": [(c["id"], c["title"]) for c in admin_http.get(f"{base}/api/courses").json()["courses"]],
        "course": admin_http.get(f"{base}/api/courses/{course_id}").json(),
        "late_course": [(m["title"], [lesson["title"] for lesson in m["lessons"]]) for m in late_course["modules"]],
        "late_answer": _answer(ask(course_id=late_course["id"], question="How do I read a spreadsheet file?")),
        "search": admin_http.post(f"{base}/api/v1/query", json={"namespace": "catalogue", "top_k": 5,
                                                                "query": "growing seedlings in compost"}).json(),
        "task": {k: v for k, v in admin_http.get(f"{base}/api/v1/tasks/{made['task_id']}").json().items()
                 if k in TASK_FACTS},
        # A follow-up in the old session: its answer depends on the exchange the backup holds.
        "follow_up": _answer(ask(course_id=course_id, session_id=made["session_id"],
                                 question="Where does it take place?")),
        "fresh": _answer(ask(course_id=course_id, question="How do cells release energy from glucose?")),
        "quiz": admin_http.get(f"{base}/api/quizzes/{made['quiz_id']}").json(),
        "attempts": admin_http.get(f"{base}/api/quizzes/{made['quiz_id']}/attempts").json(),
    }


def _answer(body: dict) -> dict:
    """An answer as the user reads it (a new session's id is new on each server)."""
    assert "answer" in body, body
    return {k: body[k] for k in ("answer", "sources", "grounded")}


def _round_trip(tmp_path: Path, source: dict[str, str], target: dict[str, str]) -> tuple[dict, dict, dict]:
    """Build data on a live server with `source` settings, back it up while a course job runs,
    restore it into `target`; what each server shows, and the backup's manifest."""
    archive = tmp_path / "school.zip"
    # The gate holds the late course job half indexed until the backup is written.
    gate = tmp_path / "gate"
    held = {**LEASES, **plugins_env("gate_plugins"), "PROFAI_TEST_GATE": str(gate)}
    server, base = start_server({**held, **source}, tmp_path / "source.log")
    try:
        made = _build(base, tmp_path)
        # A course job that the backup catches half done: its course saved, its first passages
        # stored, the rest still to embed (R-data.pdf: 41 pages).
        late_job = _upload_pdf(base, R_MANUALS / "R-data.pdf", "Held: R data")
        poll_job(base, late_job, timeout=180, until=lambda body: body["step"] == "indexing"
                 and body["step_progress"] > 0)
        out = _cli("backup", str(archive), env=source)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "Wrote" in out.stdout and "vectors: " in out.stdout
        still = admin_http.get(f"{base}/api/jobs/{late_job}").json()
        assert still["status"] == "processing" and 0 < still["step_progress"] < 100, still
        gate.touch()
        before = _observe(base, made, late_job)
    finally:
        kill_group(server, signal.SIGTERM)

    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
    assert manifest["format"] == "profai-backup" and manifest["format_version"] == 1
    assert manifest["database"]["schema_revision"] and manifest["database"]["file"] in names
    vectors = {c["name"]: c["count"] for c in manifest["vectors"]["collections"]}
    assert vectors[course_collection(made["course_job"])] > 0
    assert any(name.startswith("dataset-") and count == 60 for name, count in vectors.items()), vectors
    assert manifest["uploads"]["files"] >= 3  # two PDFs and the CSV
    assert manifest["audio"] == {"included": False}

    out = _cli("restore", str(archive), env=target)
    assert out.returncode == 0, out.stdout + out.stderr
    again = _cli("restore", str(archive), env=target)  # the target holds data now
    assert again.returncode == 2 and "restore_target_not_empty" in again.stdout, again.stdout + again.stderr
    assert "--force" in again.stdout and "Traceback" not in again.stdout + again.stderr

    server, base = start_server({**held, **target}, tmp_path / "target.log")
    try:
        after = _observe(base, made, late_job)
    finally:
        kill_group(server, signal.SIGTERM)
    return before, after, manifest


def _assert_same(before: dict, after: dict) -> None:
    for key in before:
        assert after[key] == before[key], f"{key}: {before[key]!r} became {after[key]!r}"
    assert before["follow_up"]["grounded"] and "chloroplast" in before["follow_up"]["answer"].lower()
    assert before["late_answer"]["grounded"] and "read" in before["late_answer"]["answer"].lower()
    assert len(before["search"]["results"]) == 5 and before["attempts"]["attempts"]


def test_sqlite_and_embedded_chroma(tmp_path):
    source = {"PROFAI_DATA_DIR": str(tmp_path / "live")}
    target = {"PROFAI_DATA_DIR": str(tmp_path / "restored")}
    before, after, manifest = _round_trip(tmp_path, source, target)
    assert manifest["database"]["backend"] == "sqlite" and manifest["vectors"]["source"] == "embedded"
    _assert_same(before, after)


@pytest.mark.services
def test_postgresql_and_a_chroma_server_restored_into_chroma_cloud(tmp_path, pg_databases, chroma_server):
    source = {"PROFAI_DATA_DIR": str(tmp_path / "live"), "DATABASE_URL": pg_databases(), "CHROMA_URL": chroma_server}
    tenant, database = make_tenant(chroma_server)
    target = {"PROFAI_DATA_DIR": str(tmp_path / "restored"), "DATABASE_URL": pg_databases(),
              "USE_CHROMA_CLOUD": "true", "CHROMA_CLOUD_URL": chroma_server, "CHROMA_CLOUD_API_KEY": "k" * 20,
              "CHROMA_CLOUD_TENANT": tenant, "CHROMA_CLOUD_DATABASE": database}
    before, after, manifest = _round_trip(tmp_path, source, target)
    assert manifest["database"]["backend"] == "postgresql" and manifest["vectors"]["source"] == "server"
    _assert_same(before, after)
    # Every collection of the backup is in the cloud database, with as many vectors.
    restored = collections(chroma_server, tenant, database)
    assert {c["name"] for c in manifest["vectors"]["collections"]} <= set(restored)
    assert restored == collections(chroma_server)  # the late course's rerun indexed it on both sides alike
