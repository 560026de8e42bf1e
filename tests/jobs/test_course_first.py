"""Course first, then its index: the course is readable (lessons, quizzes, audio) while its
passages are embedded, chat says it is still indexing until they are in, and a rerun finishes the
saved course instead of making another. The real PDF, model and Chroma on the local pool; the
embedder is held after its first batch so the test sees the job between the two steps."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from factories import make_pdf
from profai.api import create_app
from profai.db.engine import session_scope
from profai.db.models import Course, Job
from profai.errors import Retryable
from profai.pipelines.embedding import BatchEmbedder, DirectEmbedder, Vector
from profai.pipelines.pdf_to_course import course_collection
from profai.wiring import Container, build_container
from support import ADMIN_HEADERS, make_settings, wait_job, wait_until


class HeldEmbedder:
    """The real embedder, which stops after its first batch until `release` (or fails there once)."""

    def __init__(self, inner: BatchEmbedder, fail_first_run: bool = False) -> None:
        self.inner, self.fail_first_run = inner, fail_first_run
        self.held, self.released = threading.Event(), threading.Event()

    def embed_batches(self, batches: Sequence[list[str]], deadline: float | None = None, *,
                      keep_refused: bool = False) -> Iterator[list[Vector | None]]:
        for n, vectors in enumerate(self.inner.embed_batches(batches, deadline, keep_refused=keep_refused)):
            yield vectors
            if n == 0 and self.fail_first_run:
                self.fail_first_run = False
                raise Retryable("the embedder went away")
            if n == 0 and not self.released.is_set():
                self.held.set()
                assert self.released.wait(60), "the test never released the embedder"


@pytest.fixture
def app(tmp_path):
    ctx = build_container(make_settings(tmp_path / "data"), compute_processes=0)
    ctx.runner.start()
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as client:
        yield client, ctx
    ctx.close()


def _hold(ctx: Container, **kw: bool) -> HeldEmbedder:
    held = HeldEmbedder(DirectEmbedder(ctx.embedder), **kw)
    ctx._built["passage_embedder"] = held
    return held


def _upload(client: TestClient, pdf) -> str:
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs", data={"course_title": "Biology"},
                           files={"files": (pdf.name, f, "application/pdf")})
    assert resp.status_code == 202, resp.text
    return resp.json()["job_id"]


def test_the_course_is_read_while_it_is_indexed_and_chat_waits_for_the_index(app, tmp_path):
    client, ctx = app
    held = _hold(ctx)
    job_id = _upload(client, make_pdf(tmp_path / "bio.pdf"))
    assert held.held.wait(60), "indexing never started"

    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "processing" and job["step"] == "indexing"
    assert 15 <= job["progress"] <= 99 and 0 <= job["step_progress"] <= 100
    assert job["result"]["search_ready"] is False and job["result"]["seconds"]["readable"] > 0
    course_id = job["result"]["course_id"]

    course = client.get(f"/api/courses/{course_id}").json()
    assert course["search_ready"] is False and course["modules"][0]["lessons"][0]["content"]
    assert client.get("/api/courses").json()["courses"][0]["search_ready"] is False
    lesson = course["modules"][0]["lessons"][0]
    quiz = client.post(f"/api/courses/{course_id}/quizzes", json={"questions": 2, "difficulty": "easy"})
    assert quiz.status_code == 201, quiz.text
    audio = client.get(f"/api/courses/{course_id}/lessons/{lesson['id']}/audio")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"

    asked = client.post("/api/chat", json={"course_id": course_id, "question": "What is chlorophyll?"})
    assert asked.status_code == 409 and asked.json()["code"] == "course_indexing"
    assert "still being indexed" in asked.json()["message"]
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"course_id": course_id, "question": "What is chlorophyll?"})
        frame = ws.receive_json()
    assert frame["type"] == "error" and frame["code"] == "course_indexing"

    held.released.set()
    job = wait_job(client, job_id)
    assert job["status"] == "completed" and job["step"] is None, job
    result = job["result"]
    assert result["course_id"] == course_id and result["search_ready"] is True
    assert result["seconds"]["readable"] < result["seconds"]["searchable"]
    assert client.get(f"/api/courses/{course_id}").json()["search_ready"] is True
    answer = client.post("/api/chat", json={"course_id": course_id, "question": "What is chlorophyll?"})
    assert answer.status_code == 200 and answer.json()["sources"], answer.text


def test_a_rerun_finishes_the_saved_course_instead_of_making_another(app, tmp_path):
    client, ctx = app
    _hold(ctx, fail_first_run=True).released.set()
    job_id = _upload(client, make_pdf(tmp_path / "bio.pdf"))
    job = wait_job(client, job_id)
    assert job["status"] == "completed" and job["attempts"] == 2, job
    assert "generate" not in job["result"]["seconds"], "the rerun drafted the course again"
    with session_scope(ctx.sessions) as session:
        courses = session.query(Course).filter_by(job_id=job_id).all()
        assert [c.id for c in courses] == [job["result"]["course_id"]] and courses[0].indexed_at


def test_deleting_a_course_while_it_is_indexed_stops_its_job_and_removes_its_vectors(app, tmp_path):
    client, ctx = app
    held = _hold(ctx)
    job_id = _upload(client, make_pdf(tmp_path / "bio.pdf"))
    assert held.held.wait(60)
    course_id = client.get(f"/api/jobs/{job_id}").json()["result"]["course_id"]
    assert ctx.vectors.count(course_collection(job_id)) > 0

    assert client.delete(f"/api/courses/{course_id}").status_code == 204
    held.released.set()
    job = wait_job(client, job_id)
    assert job["status"] == "cancelled"
    wait_until(lambda: _cleaned(ctx, job_id), message=f"job {job_id} to be cleaned up")
    assert ctx.vectors.count(course_collection(job_id)) == 0
    assert client.get(f"/api/courses/{course_id}").status_code == 404


def _cleaned(ctx: Container, job_id: str) -> bool:
    with session_scope(ctx.sessions) as session:
        job = session.get(Job, job_id)
        return job is not None and job.cleaned_at is not None
