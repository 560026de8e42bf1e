"""A CSV dataset on the distributed stack: its parts run on several `profai worker` processes,
and a worker killed mid-way loses no row and duplicates none."""

from __future__ import annotations

import signal

import pytest
from celery_cluster import Cluster

from factories import make_csv
from procs import kill_group, poll_job
from profai.pipelines.csv_to_vectors import dataset_collection
from profai.stores.vectors import ChromaVectorStore
from support import admin_http, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]
ROWS = 1200


@pytest.fixture
def cluster(tmp_path, pg_databases, chroma_server_url):
    c = Cluster(tmp_path, pg_databases(), chroma_server_url, CHUNK_SIZE="100", BATCH_SIZE="50")
    yield c
    c.close()


def test_parts_spread_over_workers_and_survive_a_killed_worker(cluster, tmp_path):
    doomed = cluster.worker(concurrency=1)
    cluster.worker(concurrency=1)
    api = cluster.server()
    namespace = f"celery-{tmp_path.name[-6:]}".replace("_", "-")
    path = make_csv(tmp_path / "rows.csv", ROWS)
    with path.open("rb") as f:
        resp = admin_http.post(f"{api}/api/v1/datasets", files={"file": ("rows.csv", f, "text/csv")}, timeout=30,
                          data={"namespace": namespace, "id_column": "id", "text_columns": "title,description"})
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task_id"]

    # Kill one whole worker (parent and children) once some parts are done, then replace it.
    wait_until(lambda: admin_http.get(f"{api}/api/v1/tasks/{task_id}").json()["parts"]["done"] >= 2, timeout=120,
               interval=0.2, message="two parts to finish")
    kill_group(doomed, signal.SIGKILL)
    cluster.worker(concurrency=1)

    body = poll_job(api, task_id, timeout=240, path="/api/v1/tasks/")
    assert body["status"] == "completed", body
    assert body["total_rows"] == body["processed_rows"] == ROWS and body["failed_rows"] == 0
    assert body["parts"] == {"total": 12, "done": 12, "failed": 0, "running": 0, "pending": 0}
    assert ChromaVectorStore.server(cluster.env["CHROMA_URL"]).count(dataset_collection(namespace)) == ROWS
