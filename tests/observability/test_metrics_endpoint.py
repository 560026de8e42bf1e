"""GET /metrics on a real server: who may read it, and counters that move with real requests,
real jobs (a course and a CSV dataset in parts, on the local runner), hosted API calls refused
with a 429 and retried, and a chat over the WebSocket."""

from __future__ import annotations

import httpx
import pytest
from scrapes import CSV_ROWS, TOKEN, moved, value

from support import ADMIN_HEADERS

pytestmark = pytest.mark.slow


def test_only_the_token_or_an_admin_reads_the_metrics(server):
    url = f"{server.url}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer not-the-metrics-token"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert httpx.get(url, headers=ADMIN_HEADERS).status_code == 200  # the API_KEY admin
    # The token reads the metrics and nothing else.
    assert httpx.get(f"{server.url}/api/courses", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 401


def test_requests_are_counted_by_route_template_and_status(workload):
    before, after = workload.before, workload.after
    assert moved(before, after, "profai_http_requests_total", method="POST", route="/api/upload-pdfs",
                 status="202") == 1
    assert moved(before, after, "profai_http_requests_total", method="POST", route="/api/v1/datasets",
                 status="202") == 1
    assert moved(before, after, "profai_http_requests_total", route="/api/jobs/{job_id}", status="200") >= 1
    assert moved(before, after, "profai_http_requests_total", route="/api/courses", status="401") == 1
    # No raw path (with its ids) ever becomes a label.
    routes = {dict(labels).get("route") for name, labels in after if name == "profai_http_requests_total"}
    assert not any(workload.course_job["job_id"] in r for r in routes), routes
    # The latency histogram saw the upload, in its +Inf bucket and its count.
    assert moved(before, after, "profai_http_request_duration_seconds_count", route="/api/upload-pdfs") == 1
    assert moved(before, after, "profai_http_request_duration_seconds_bucket", route="/api/upload-pdfs",
                 le="+Inf") == 1
    assert moved(before, after, "profai_http_request_duration_seconds_sum", route="/api/upload-pdfs") > 0


def test_jobs_their_steps_and_what_they_embedded_are_counted(workload):
    before, after = workload.before, workload.after
    assert moved(before, after, "profai_job_runs_total", kind="course", outcome="completed") == 1
    assert moved(before, after, "profai_job_runs_total", kind="dataset", outcome="deferred") == 1
    parts = workload.dataset_job["parts"]["total"]
    assert parts == CSV_ROWS // 10
    assert moved(before, after, "profai_job_runs_total", kind="dataset_part", outcome="completed") == parts
    assert moved(before, after, "profai_job_duration_seconds_count", kind="course", outcome="completed") == 1
    for step in ("reading", "indexing"):
        assert moved(before, after, "profai_job_step_duration_seconds_count", kind="course", step=step) == 1
        assert moved(before, after, "profai_job_step_duration_seconds_sum", kind="course", step=step) > 0
    assert moved(before, after, "profai_passages_embedded_total") == workload.course_job["result"]["passages"] > 0
    assert moved(before, after, "profai_rows_embedded_total") == CSV_ROWS
    # Read from the job table at scrape time.
    assert value(after, "profai_jobs", kind="course", state="completed") == 1
    assert value(after, "profai_jobs", kind="dataset_part", state="completed") == parts
    assert value(after, "profai_jobs", kind="course", state="pending") == 0  # zeros are reported too
    assert value(after, "profai_job_queue_depth") == 0


def test_hosted_api_calls_429s_and_retries_are_counted(workload):
    before, after = workload.before, workload.after
    # Every request the fake OpenAI server received, the one it refused included.
    assert moved(before, after, "profai_hosted_api_requests_total", api="embeddings") == workload.embeddings_sent
    assert workload.refused == 1
    assert moved(before, after, "profai_hosted_api_rate_limited_total", api="embeddings") == 1
    assert moved(before, after, "profai_hosted_api_retries_total", api="embeddings") == 1
    assert moved(before, after, "profai_hosted_api_request_duration_seconds_count",
                 api="embeddings") == workload.embeddings_sent


def test_chat_sockets_are_counted_and_closed(workload):
    before, after = workload.before, workload.after
    assert moved(before, after, "profai_websocket_sessions_total", route="/ws/chat") == 1
    assert value(after, "profai_websocket_sessions_open", route="/ws/chat") == 0
