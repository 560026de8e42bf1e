"""One real `profai serve` process (local runner, JSON logs, hosted embeddings from a local fake
OpenAI server that refuses the first call with a 429), and a workload run through it once: a PDF
course job, a CSV dataset job in parts, a chat over the WebSocket, with /metrics scraped before
and after."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from scrapes import CSV_ROWS, TOKEN, UPLOAD_REQUEST_ID, Samples, scrape, value
from websockets.sync.client import connect

from factories import make_csv, make_pdf
from fakes.openai_server import FakeOpenAI
from procs import kill_group, poll_job, start_server
from support import ADMIN_HEADERS, admin_http, wait_until


@dataclass
class Server:
    url: str
    log: Path


@dataclass
class Workload:
    before: Samples
    after: Samples
    course_job: dict  # the course job's final status body
    dataset_job: dict
    dataset_request_id: str  # made up by the server: the CSV upload sent none
    embeddings_sent: int  # requests the fake received meanwhile
    refused: int  # of which answered 429


@pytest.fixture(scope="module")
def fake_openai():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory, fake_openai):
    root = tmp_path_factory.mktemp("observed")
    env = {"PROFAI_DATA_DIR": str(root / "data"), "LOG_FORMAT": "json", "METRICS_TOKEN": TOKEN,
           "EMBEDDER": "openai", "EMBEDDING_BASE_URL": fake_openai.url, "OPENAI_API_KEY": "test-key",
           "OPENAI_RATE_LIMIT": "100", "HTTP_TIMEOUT_SECONDS": "10", "CHUNK_SIZE": "10", "BATCH_SIZE": "10",
           "MAX_WORKERS": "2"}
    proc, url = start_server(env, root / "server.log")
    yield Server(url, root / "server.log")
    kill_group(proc, signal.SIGTERM)


def _chat(base: str, course_id: int) -> list[dict]:
    frames = []
    with connect(base.replace("http://", "ws://") + "/ws/chat", additional_headers=ADMIN_HEADERS) as ws:
        ws.send(json.dumps({"course_id": course_id, "question": "What do chloroplasts contain?"}))
        while not frames or frames[-1]["type"] not in ("end", "error"):
            frames.append(json.loads(ws.recv(timeout=60)))
    return frames


@pytest.fixture(scope="module")
def workload(server, fake_openai, tmp_path_factory) -> Workload:
    root = tmp_path_factory.mktemp("workload")
    base = server.url
    before = scrape(base)
    sent_before, refused_before = fake_openai.count("/v1/embeddings"), fake_openai.count("/v1/embeddings", 429)
    fake_openai.script("429")  # the next embeddings call is refused once, then retried

    pdf = make_pdf(root / "biology.pdf")
    with pdf.open("rb") as f:
        resp = admin_http.post(f"{base}/api/upload-pdfs", data={"course_title": "Biology"},
                               files={"files": (pdf.name, f, "application/pdf")},
                               headers={"X-Request-ID": UPLOAD_REQUEST_ID})
    assert resp.status_code == 202, resp.text
    assert resp.headers["x-request-id"] == UPLOAD_REQUEST_ID
    course_job = poll_job(base, resp.json()["job_id"], timeout=180)
    assert course_job["status"] == "completed", course_job

    csv = make_csv(root / "catalogue.csv", CSV_ROWS)
    with csv.open("rb") as f:
        resp = admin_http.post(f"{base}/api/v1/datasets", files={"file": (csv.name, f, "text/csv")},
                               data={"namespace": "catalogue", "id_column": "id", "text_columns": "title,description"})
    assert resp.status_code == 202, resp.text
    dataset_request_id = resp.headers["x-request-id"]
    dataset_job = poll_job(base, resp.json()["task_id"], timeout=180, path="/api/v1/tasks/")
    assert dataset_job["status"] == "completed", dataset_job

    frames = _chat(base, course_job["result"]["course_id"])
    assert frames[-1]["type"] == "end", frames
    assert httpx.get(f"{base}/api/courses", timeout=10).status_code == 401  # counted too

    def closed() -> Samples | None:  # the socket's handler ends just after the client closes
        samples = scrape(base)
        return samples if value(samples, "profai_websocket_sessions_open") == 0 else None

    after = wait_until(closed, timeout=30, interval=0.2, message="the chat socket to be counted as closed")
    return Workload(before, after, course_job, dataset_job, dataset_request_id,
                    fake_openai.count("/v1/embeddings") - sent_before,
                    fake_openai.count("/v1/embeddings", 429) - refused_before)
