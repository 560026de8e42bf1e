"""The dataset job and its parts, driven step by step (no runner): splitting, a failed part,
retrying only that part, settling the parent, and reruns that never duplicate."""

from __future__ import annotations

import pytest

from factories import make_csv
from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.domain import CLI
from profai.jobs.dataset_job import part_id
from profai.jobs.execute import execute_job
from profai.pipelines.csv_to_vectors import dataset_collection
from profai.services import datasets
from profai.services.uploads import IncomingFile
from profai.wiring import build_container
from support import make_settings


@pytest.fixture
def ctx(tmp_path):
    c = build_container(make_settings(tmp_path / "data", CHUNK_SIZE=10, BATCH_SIZE=4), runner="none",
                        compute_processes=0)
    c.runner = _Recorder()
    yield c
    c.close()


class _Recorder:
    """Stands in for a runner: remembers what was submitted so the test runs it explicitly."""

    def __init__(self):
        self.submitted: list[str] = []

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)

    def stop(self) -> None:
        pass


def _start(ctx, path):
    with path.open("rb") as f:
        return datasets.start_dataset(ctx, CLI, IncomingFile(path.name, f), namespace="ns", id_column="id",
                                      text_columns=("title", "description"), metadata_columns=("topic",))


def _status(ctx, job_id):
    with session_scope(ctx.sessions) as session:
        return jobs_repo.get(session, job_id).status


def test_failed_part_is_reported_then_retried_alone(ctx, tmp_path):
    job = _start(ctx, make_csv(tmp_path / "d.csv", 35))
    assert execute_job(ctx, job.id, "test:1:a") == "deferred"
    parts = [part_id(job.id, i) for i in range(4)]
    assert ctx.runner.submitted == [job.id, *parts]
    assert _status(ctx, job.id) == "processing_chunks"

    # Part 2's rows file goes missing: that part fails, the others complete.
    with session_scope(ctx.sessions) as session:
        rows_file = ctx.blobs.path(jobs_repo.get(session, parts[2]).payload["key"])
    hidden = rows_file.rename(rows_file.with_suffix(".hidden"))
    outcomes = [execute_job(ctx, p, "test:1:a") for p in parts]
    assert outcomes == ["completed", "completed", "failed", "completed"]

    report = datasets.task_report(ctx, CLI, job.id)
    assert report.job.status == "partially_completed"
    assert report.job.error_code == "parts_failed"
    assert (report.tally.embedded_rows, report.failed_rows) == (25, 10)
    assert report.errors[-1]["code"] == "part_failed" and report.errors[-1]["line"] == 22
    assert ctx.vectors.count(dataset_collection("ns")) == 25

    hidden.rename(rows_file)
    ctx.runner.submitted.clear()
    assert datasets.retry_task(ctx, CLI, job.id).status == "processing_chunks"
    assert ctx.runner.submitted == [parts[2]]
    assert execute_job(ctx, parts[2], "test:1:a") == "completed"
    report = datasets.task_report(ctx, CLI, job.id)
    assert report.job.status == "completed" and report.failed_rows == 0 and report.errors == []
    assert ctx.vectors.count(dataset_collection("ns")) == 35

    with pytest.raises(Exception) as err:
        datasets.retry_task(ctx, CLI, job.id)
    assert getattr(err.value, "code", None) == "nothing_to_retry"


def test_a_part_run_twice_writes_each_row_once(ctx, tmp_path):
    job = _start(ctx, make_csv(tmp_path / "d.csv", 12))
    execute_job(ctx, job.id, "test:1:a")
    first = part_id(job.id, 0)
    assert execute_job(ctx, first, "test:1:a") == "completed"
    # A redelivered duplicate finds the part finished and does nothing.
    assert execute_job(ctx, first, "test:1:b") == "skipped"
    with session_scope(ctx.sessions) as session:  # as if a crash made it run again
        assert jobs_repo.requeue_failed(session, first) is False
        jobs_repo.get(session, first).status = "pending"
    assert execute_job(ctx, first, "test:1:b") == "completed"
    assert execute_job(ctx, part_id(job.id, 1), "test:1:a") == "completed"
    assert ctx.vectors.count(dataset_collection("ns")) == 12
    assert _status(ctx, job.id) == "completed"


def test_a_lost_settle_is_recovered_by_the_reaper(ctx, tmp_path):
    from profai.jobs.reaper import reap_once

    job = _start(ctx, make_csv(tmp_path / "d.csv", 5))
    execute_job(ctx, job.id, "test:1:a")
    with session_scope(ctx.sessions) as session:  # the part finished but its worker died before settling
        part = jobs_repo.get(session, part_id(job.id, 0))
        part.status, part.result = "completed", {"rows": 5, "embedded": 5, "rejected": 0}
    assert _status(ctx, job.id) == "processing_chunks"
    reap_once(ctx)
    assert _status(ctx, job.id) == "completed"


def test_a_file_with_no_good_rows_fails_with_its_row_errors(ctx, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,title,description,topic\n,a,b,c\n,d,e,f\n")
    job = _start(ctx, path)
    assert execute_job(ctx, job.id, "test:1:a") == "failed"
    report = datasets.task_report(ctx, CLI, job.id)
    assert report.job.error_code == "no_valid_rows"
    assert [e["line"] for e in report.errors] == [2, 3]
