"""A CSV through the hosted embedding path, against a local server that speaks the OpenAI
embeddings wire format and misbehaves: every row still ends embedded, and the server's own log
shows the shared (Redis) rate limit was never exceeded."""

from __future__ import annotations

import uuid

import pytest

from factories import make_csv
from fakes.openai_server import FakeOpenAI
from profai.domain import CLI
from profai.jobs.local_runner import LocalRunner
from profai.pipelines.csv_to_vectors import dataset_collection
from profai.services import datasets
from profai.services.uploads import IncomingFile
from profai.wiring import build_container
from support import make_settings, wait_until

pytestmark = pytest.mark.services
RATE = 8


def test_faults_cost_time_not_rows(tmp_path):
    faults = {"p429": 0.15, "p500": 0.1, "p_slow": 0.05, "slow_seconds": 3, "p_malformed": 0.08, "retry_after": 0.5}
    with FakeOpenAI(rate_limit=RATE, **faults) as fake:
        settings = make_settings(
            tmp_path / "data", EMBEDDER="openai", EMBEDDING_BASE_URL=fake.url, OPENAI_API_KEY="test-key",
            OPENAI_RATE_LIMIT=RATE, REDIS_URL="redis://127.0.0.1:6379/0", HTTP_TIMEOUT_SECONDS=1,
            CHUNK_SIZE=100, BATCH_SIZE=20, MAX_WORKERS=3,
        )
        ctx = build_container(settings, runner="none", compute_processes=0)
        ctx.runner = LocalRunner(ctx)
        ctx.runner.start()
        namespace = f"hosted-{uuid.uuid4().hex[:6]}"
        try:
            path = make_csv(tmp_path / "rows.csv", 400)
            with path.open("rb") as f:
                job = datasets.start_dataset(ctx, CLI, IncomingFile(path.name, f), namespace=namespace, id_column="id",
                                             text_columns=("title", "description"))
            report = _wait(ctx, job.id)
            assert report.job.status == "completed", report.job.error
            assert report.tally.embedded_rows == 400 and report.failed_rows == 0
            assert ctx.vectors.count(dataset_collection(namespace)) == 400
        finally:
            ctx.close()
    calls = fake.count("/v1/embeddings")
    failures = calls - fake.count("/v1/embeddings", 200)
    assert failures > 0, "the server injected no faults: the test proved nothing"
    assert fake.max_in_window(1.0, "/v1/embeddings") <= RATE


def _wait(ctx, task_id, timeout=180):
    last: list = [None]

    def finished():
        report = last[0] = datasets.task_report(ctx, CLI, task_id)
        return report if report.job.status in ("completed", "partially_completed", "failed") else None

    return wait_until(finished, timeout=timeout, interval=0.2,
                      message=lambda: f"task {task_id} to finish: {last[0].job.status} {last[0].job.message}")
