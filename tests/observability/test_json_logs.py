"""LOG_FORMAT=json on a real server: every line it writes is one JSON object, and the request id
of an upload (sent as X-Request-ID, or made up) is on the API's line and on the job's lines
written by the worker that ran it. Hostile request ids are replaced, never echoed or logged."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys

import httpx
import pytest
from scrapes import UPLOAD_REQUEST_ID, json_lines

from profai.api.observe import Observe
from profai.observability import logs

pytestmark = pytest.mark.slow
FIELDS = {"timestamp", "level", "logger", "message", "request_id", "job_id"}
MADE_UP = re.compile(r"[0-9a-f]{32}")


def test_every_line_is_json_and_the_request_id_follows_the_upload_into_its_job(workload, server):
    lines = json_lines(server.log)
    assert all(set(line) >= FIELDS for line in lines), [line for line in lines if not set(line) >= FIELDS][:3]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own lines are JSON too
    job_id = workload.course_job["job_id"]

    api = [line for line in lines if line["request_id"] == UPLOAD_REQUEST_ID and line["job_id"] is None]
    assert any(line["message"] == f"job {job_id} queued" for line in api), api
    worker = [line for line in lines if line["job_id"] == job_id]
    assert {line["request_id"] for line in worker} == {UPLOAD_REQUEST_ID}
    messages = [line["message"] for line in worker]
    assert any("started" in m for m in messages) and any(m.endswith("s") and "completed after" in m for m in messages)


def test_jobs_a_job_creates_keep_its_request_id(workload, server):
    """The CSV upload sent no X-Request-ID: the server made one up, answered it, and the dataset's
    part jobs (created by the worker running the split) log under it too."""
    rid = workload.dataset_request_id
    assert MADE_UP.fullmatch(rid)
    lines = [line for line in json_lines(server.log) if line["request_id"] == rid]
    jobs = {line["job_id"] for line in lines if line["job_id"]}
    assert workload.dataset_job["task_id"] in jobs
    assert len(jobs) == 1 + workload.dataset_job["parts"]["total"], jobs


@pytest.mark.parametrize("sent", [
    "x" * (logs.MAX_REQUEST_ID + 1),  # too long
    "café".encode(),  # not ASCII
    "ünïcödé-🙂".encode(),
    "two words",
    '"><script>alert(1)</script>',
    "../../etc/passwd",
    "-starts-with-a-dash",
])
def test_a_hostile_request_id_is_replaced(server, sent):
    resp = httpx.get(f"{server.url}/health", headers={"X-Request-ID": sent})
    got = resp.headers["x-request-id"]
    assert MADE_UP.fullmatch(got), got
    assert (sent if isinstance(sent, str) else sent.decode("latin-1")) not in server.log.read_text()


@pytest.mark.parametrize("sent", ["a", "7f3c9e0a-1b2c-4d5e-8f90-123456789abc", "trace:1.2.3_x-y", "x" * logs.MAX_REQUEST_ID])
def test_a_sane_request_id_is_kept(server, sent):
    assert httpx.get(f"{server.url}/health", headers={"X-Request-ID": sent}).headers["x-request-id"] == sent


def test_control_characters_in_a_request_id_are_replaced():
    """A newline cannot come through an HTTP/1.1 server (its parser refuses it), but the rule must
    not depend on the server: the middleware itself, given one in the ASGI scope."""
    seen: list[str | None] = []

    async def app(scope, receive, send):
        seen.append(logs.request_id())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    for hostile in (b"abc\ndef", b"abc\r\nX-Injected: 1", b"abc\x00", b"abc\tdef"):
        sent: list[dict] = []

        async def send(message, sent=sent):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", hostile)],
                 "query_string": b""}
        asyncio.run(Observe(app)(scope, receive, send))
        header = dict(sent[0]["headers"])[b"x-request-id"].decode()
        assert MADE_UP.fullmatch(header) and seen[-1] == header


def test_a_json_line_stays_one_line_whatever_the_message():
    message = "two\nlines \u2028 \u2029 \x85 and a \"quote\""
    record = logging.LogRecord("profai.test", logging.ERROR, __file__, 1, message, (), None)
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record.exc_info = sys.exc_info()
    with logs.bound(request_id="r-1", job_id="j-1"):
        line = logs.JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    parsed = json.loads(line)
    assert parsed["message"] == message
    assert parsed["request_id"] == "r-1" and parsed["job_id"] == "j-1"
    assert "ValueError: boom" in parsed["exception"]
    assert logs.request_id() is None  # `bound` restored what was there
