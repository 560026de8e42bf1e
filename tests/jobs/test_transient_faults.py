"""Failures that pass are retried within JOB_MAX_ATTEMPTS, and clean-up that cannot finish is
finished later: a real `chroma run` server killed mid-job (or mid-clean-up) and started again on
the same port and data, with the local model, the local pool and SQLite; a PostgreSQL connection
terminated under a running job; real clients of each backend meeting a closed port. CSV parts get
JOB_MAX_ATTEMPTS attempts too."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from factories import make_csv, make_pdf
from procs import free_port
from profai.api import create_app
from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.errors import InvalidInput, Retryable, transient
from profai.jobs.registry import JobKind, register
from profai.pipelines.csv_to_vectors import dataset_collection
from profai.pipelines.embedding import BatchEmbedder, DirectEmbedder, Vector
from profai.pipelines.pdf_to_course import course_collection
from profai.stores.vectors import ChromaVectorStore
from profai.wiring import Container, build_container
from support import ADMIN_HEADERS, job_row, make_settings, wait_job, wait_until

pytestmark = pytest.mark.slow
RETRY_NOTES = ("Attempt ", "Retrying after: ")  # the messages of a job between two attempts


class HeldAfterFirstBatch:
    """The real embedder, which pauses after its first batch (of its first run) until `go`."""

    def __init__(self, inner: BatchEmbedder) -> None:
        self.inner = inner
        self.held, self.go = threading.Event(), threading.Event()

    def embed_batches(self, batches: Sequence[list[str]], deadline: float | None = None, *,
                      keep_refused: bool = False) -> Iterator[list[Vector | None]]:
        for n, vectors in enumerate(self.inner.embed_batches(batches, deadline, keep_refused=keep_refused)):
            yield vectors
            if n == 0 and not self.go.is_set():
                self.held.set()
                assert self.go.wait(120), "the test never let the embedder go on"


@pytest.fixture
def make_app(tmp_path, chroma):
    """A server's container and client on the Chroma server, with settings of the test's own."""
    made: list[tuple[TestClient, Container]] = []

    def make(**settings) -> tuple[TestClient, Container]:
        ctx = build_container(make_settings(tmp_path / "data", CHROMA_URL=chroma.url, **settings), compute_processes=0)
        ctx.runner.start()
        client = TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS)
        client.__enter__()
        made.append((client, ctx))
        return client, ctx

    yield make
    for client, ctx in made:
        client.__exit__(None, None, None)
        ctx.close()


def _hold(ctx: Container) -> HeldAfterFirstBatch:
    held = HeldAfterFirstBatch(DirectEmbedder(ctx.embedder))
    ctx._built["passage_embedder"] = held
    return held


def _upload(client: TestClient, pdf: Path, title: str) -> str:
    with pdf.open("rb") as f:
        resp = client.post("/api/upload-pdfs", data={"course_title": title},
                           files={"files": (pdf.name, f, "application/pdf")})
    assert resp.status_code == 202, resp.text
    return resp.json()["job_id"]


def _uploads(ctx: Container) -> set[str]:
    root = ctx.settings.data_dir / "uploads"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_a_course_job_rides_out_a_chroma_outage(make_app, chroma, tmp_path):
    client, ctx = make_app(JOB_MAX_ATTEMPTS=5)
    held = _hold(ctx)
    job_id = _upload(client, make_pdf(tmp_path / "bio.pdf", repeat=20), "Biology")  # 45 passages, 2 batches
    assert held.held.wait(120), "indexing never started"
    collection = course_collection(job_id)
    first = client.get(f"/api/jobs/{job_id}").json()
    assert first["step"] == "indexing" and 0 < ctx.vectors.count(collection) < first["result"]["passages"]

    chroma.kill()  # between two batches: the next upsert meets a dead server
    held.go.set()
    seen: list[str] = []

    def retrying() -> bool:
        job = job_row(ctx.sessions, job_id)
        seen.append(job.message)
        assert job.status not in jobs_repo.FINISHED, f"the job ended while Chroma was down: {job.error}"
        return job.attempts >= 2 or job.message.startswith(RETRY_NOTES)

    wait_until(retrying, timeout=120, interval=0.05, message=lambda: f"the job to retry: {seen[-3:]}")
    chroma.start()

    body = wait_job(client, job_id, timeout=240)
    assert body["status"] == "completed", body
    assert body["attempts"] >= 2
    notes = [m for m in seen if m.startswith(RETRY_NOTES)]
    assert all("could not be reached" in m for m in notes), notes  # its owner reads why, not a traceback
    # The course saved by the first attempt is the one completed: one course, every passage once.
    assert body["result"]["course_id"] == first["result"]["course_id"]
    assert client.get("/api/courses").json()["total"] == 1
    assert ctx.vectors.count(collection) == body["result"]["passages"] == first["result"]["passages"]


def test_csv_parts_get_job_max_attempts_and_retry_a_dead_chroma(make_app, chroma, tmp_path):
    client, ctx = make_app(JOB_MAX_ATTEMPTS=4, JOB_RETRY_BACKOFF_SECONDS=0.2, CHUNK_SIZE=100, BATCH_SIZE=50)
    ctx.vectors.ping()  # connected before the outage, as a server that has run a while is
    chroma.kill()
    with make_csv(tmp_path / "rows.csv", 250).open("rb") as f:
        resp = client.post("/api/v1/datasets", files={"file": ("rows.csv", f, "text/csv")},
                           data={"namespace": "shop", "id_column": "id", "text_columns": "title,description"})
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task_id"]

    body = wait_job(client, task_id, timeout=180, path="/api/v1/tasks/")
    assert body["status"] == "failed", body
    with session_scope(ctx.sessions) as session:
        parts = jobs_repo.parts(session, task_id)
    assert len(parts) == 3
    for part in parts:  # each part had all of JOB_MAX_ATTEMPTS, not a fixed 3, and says why it failed
        assert (part.status, part.max_attempts, part.attempts) == ("failed", 4, 4), part.error
        assert part.error_code == "too_many_attempts"
        assert part.error == "Failed after 4 attempts: a service it needs could not be reached"

    chroma.start()
    assert client.post(f"/api/v1/tasks/{task_id}/retry").status_code in (200, 202)
    body = wait_job(client, task_id, timeout=180, path="/api/v1/tasks/")
    assert body["status"] == "completed", body
    assert body["processed_rows"] == 250 and body["failed_rows"] == 0
    assert ctx.vectors.count(dataset_collection("shop")) == 250


def test_a_clean_up_that_meets_a_dead_chroma_is_retried_until_it_finishes(make_app, chroma, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="profai.jobs.cleanup")
    client, ctx = make_app(ORPHAN_SWEEP_SECONDS=0)  # the job's own clean-up does it, not the sweep
    held = _hold(ctx)
    job_id = _upload(client, make_pdf(tmp_path / "bio.pdf", repeat=20), "Biology")
    assert held.held.wait(120), "indexing never started"
    collection = course_collection(job_id)
    course_id = client.get(f"/api/jobs/{job_id}").json()["result"]["course_id"]
    assert ctx.vectors.count(collection) > 0 and _uploads(ctx)

    chroma.kill()
    assert client.post(f"/api/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    held.go.set()  # the worker sees the cancel, lets go and cleans up: Chroma is down

    def stopped_clean_ups() -> int:
        return sum(f"job {job_id}: clean-up stopped" in r.getMessage() for r in caplog.records)

    # Tried by the worker, then again by the reaper: not given up after the first failure.
    wait_until(lambda: stopped_clean_ups() >= 2, timeout=60, message="the clean-up to be tried twice")
    # Between tries the lease is let go (the reaper may already be in a third: wait for its end).
    job = wait_until(lambda: (row := job_row(ctx.sessions, job_id)).lease_owner is None and row, timeout=30,
                     message="the clean-up's lease to be let go between tries")
    assert job.cleaned_at is None and job.lease_owner is None and _uploads(ctx)

    chroma.start()
    wait_until(lambda: job_row(ctx.sessions, job_id).cleaned_at, timeout=60, message="the clean-up to finish")
    assert collection not in ctx.vectors.collections()
    assert not _uploads(ctx)
    assert client.get(f"/api/courses/{course_id}").status_code == 404


def test_deletes_while_chroma_is_down_are_finished_by_the_sweep(make_app, chroma, tmp_path):
    client, ctx = make_app(ORPHAN_SWEEP_SECONDS=1, ORPHAN_GRACE_SECONDS=1, CHUNK_SIZE=40, BATCH_SIZE=20)
    pdf = make_pdf(tmp_path / "bio.pdf", repeat=2)
    kept, gone = (wait_job(client, _upload(client, pdf, title)) for title in ("Kept", "Gone"))
    # Two datasets in one namespace (one collection): 60 rows row-0.., and 50 rows of their own.
    csvs = {"kept": make_csv(tmp_path / "kept.csv", 60),
            "gone": make_csv(tmp_path / "gone.csv", 0, extra=[[f"gone-{n}", f"Gone lesson {n}", "text", "music",
                                                                "beginner"] for n in range(50)])}
    datasets = {}
    for name, path in csvs.items():
        with path.open("rb") as f:
            resp = client.post("/api/v1/datasets", files={"file": (path.name, f, "text/csv")},
                               data={"namespace": "shop", "id_column": "id", "text_columns": "title"})
        datasets[name] = resp.json()["task_id"]
        assert wait_job(client, datasets[name], path="/api/v1/tasks/")["status"] == "completed"
    shop = dataset_collection("shop")
    assert ctx.vectors.count(shop) == 110
    files_before = _uploads(ctx)
    with session_scope(ctx.sessions) as session:
        gone_keys = {f["key"] for f in jobs_repo.get(session, gone["job_id"]).payload["files"]}
        gone_keys.add(datasets_repo.get(session, datasets["gone"]).blob_key)
    gone_keys |= {k for k in files_before if k.startswith(f"datasets/{datasets['gone']}/")}

    chroma.kill()
    gone_course = gone["result"]["course_id"]
    assert client.delete(f"/api/courses/{gone_course}").status_code == 204
    assert client.delete(f"/api/v1/datasets/{datasets['gone']}").status_code == 204
    assert client.get(f"/api/courses/{gone_course}").status_code == 404
    assert gone_keys <= _uploads(ctx)  # left behind while Chroma was down, with the vectors
    chroma.start()

    def swept() -> bool:
        return course_collection(gone["job_id"]) not in ctx.vectors.collections() and \
            ctx.vectors.count(shop) == 60 and not gone_keys & _uploads(ctx)

    wait_until(swept, timeout=90, interval=0.5, message="the sweep to remove the deleted course and dataset")
    # What is still in use is untouched.
    assert _uploads(ctx) == files_before - gone_keys
    assert ctx.vectors.count(course_collection(kept["job_id"])) == kept["result"]["passages"]
    assert client.get(f"/api/courses/{kept['result']['course_id']}").status_code == 200
    hits = client.post("/api/v1/query", json={"namespace": "shop", "query": "lesson", "top_k": 100}).json()
    assert len(hits["results"]) == 60 and all(h["id"].startswith("row-") for h in hits["results"])


def test_connection_failures_of_every_backend_are_transient_and_bugs_are_not(tmp_path):
    """Real clients against a port nobody listens on, and real errors that are not passing."""
    port = free_port()

    def raised(call) -> BaseException:
        with pytest.raises(Exception) as caught:
            call()
        return caught.value

    database = raised(lambda: create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{port}/x").connect())
    assert isinstance(database, OperationalError) and transient(database) == "the database connection failed"
    queue = raised(lambda: redis.Redis(port=port).ping())
    assert transient(queue) == "the connection to Redis failed"
    assert transient(raised(lambda: httpx.get(f"http://127.0.0.1:{port}/"))) == "a service it needs could not be reached"
    # chromadb says ValueError("Could not connect to a Chroma server..."), raised from httpx's ConnectError.
    chroma = raised(lambda: ChromaVectorStore.server(f"http://127.0.0.1:{port}").count("c"))
    assert isinstance(chroma, ValueError) and transient(chroma) == "a service it needs could not be reached"
    assert transient(Retryable("a compute process died")) == "a compute process died"

    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with sqlite.connect() as conn:
        missing = raised(lambda: conn.execute(text("SELECT * FROM no_such_table")))
    assert isinstance(missing.orig, sqlite3.OperationalError) and transient(missing) is None  # a bug, not a blip
    for error in (ValueError("bad"), KeyError("k"), InvalidInput("no")):
        assert transient(error) is None


def _sleep_in_the_database(job, deps):
    """A job step that holds a database connection for a while (the first time)."""
    with session_scope(deps.sessions) as session:
        session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": 60 if job.attempt == 1 else 0})
    return {"attempt": job.attempt}


def test_a_job_whose_database_connection_is_dropped_runs_again(tmp_path, pg_databases):
    register("db_sleep", JobKind(run=_sleep_in_the_database, cleanup=lambda *_: None))
    url = pg_databases()
    ctx = build_container(make_settings(tmp_path / "data", DATABASE_URL=url, JOB_RETRY_BACKOFF_SECONDS=0.2),
                          compute_processes=0)
    ctx.runner.start()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with session_scope(ctx.sessions) as session:
            job_id = jobs_repo.create(session, "db_sleep", {}).id
        ctx.runner.submit(job_id)
        name = url.rsplit("/", 1)[1]
        find = text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND query LIKE 'SELECT pg_sleep%'"
                    " AND pid <> pg_backend_pid()")
        with admin.connect() as conn:
            pid = wait_until(lambda: conn.execute(find, {"db": name}).scalar(), timeout=60,
                             message="the job's statement to run")
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})  # as a restart or a proxy would
        wait_until(lambda: job_row(ctx.sessions, job_id).status in jobs_repo.FINISHED, timeout=60, message="the job to finish")
        job = job_row(ctx.sessions, job_id)
        assert (job.status, job.attempts, job.result) == ("completed", 2, {"attempt": 2}), job.error
    finally:
        admin.dispose()
        ctx.close()
