"""deploy/nginx/ with the real nginx (Debian's package) in front of a real `profai serve`: the
config rendered from the template, nginx in the foreground with its files in a temp folder, on a
free port. Uploads, the chat WebSocket, gzip and headers go through it; over the body limit, over
the rate and with headers that trickle in, nginx itself answers."""

from __future__ import annotations

import contextlib
import gzip
import json
import select
import signal
import socket
import time

import httpx
import pytest
from deploy_support import DEPLOY, NginxConfig, render, running_nginx
from websockets.sync.client import connect as ws_connect

from factories import make_pdf
from procs import free_port, kill_group, poll_job, start_server
from profai.api.routes.web import WEB_DIR
from profai.settings import Settings
from support import ADMIN_HEADERS

pytestmark = pytest.mark.slow

# The api runs with small upload limits so that nginx's limit, rendered from the same values,
# can be crossed with a few MB.
LIMITS = {"MAX_UPLOAD_MB": "1", "MAX_FILES": "1"}
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(_env_file=None, **LIMITS)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> str:
    """host:port of one `profai serve` (SQLite, the local runner) with LIMITS."""
    root = tmp_path_factory.mktemp("api")
    proc, url = start_server({"PROFAI_DATA_DIR": str(root / "data"), "MAX_WORKERS": "1", **LIMITS},
                             root / "server.log")
    yield url.removeprefix("http://")
    kill_group(proc, signal.SIGTERM)


@pytest.fixture(scope="module")
def proxy(api, settings, tmp_path_factory):
    """nginx with the production values but the api's limits."""
    with running_nginx(tmp_path_factory.mktemp("nginx"), [api], settings) as nginx:
        yield nginx


@pytest.fixture(scope="module")
def course(proxy, tmp_path_factory) -> dict:
    """A course uploaded through nginx: the 202's body and the finished job's."""
    pdf = make_pdf(tmp_path_factory.mktemp("pdf") / "biology.pdf")
    with pdf.open("rb") as f:
        resp = httpx.post(f"{proxy.url}/api/upload-pdfs", headers=ADMIN_HEADERS, data={"course_title": "Biology"},
                          files={"files": (pdf.name, f, "application/pdf")}, timeout=60)
    assert resp.status_code == 202, resp.text
    accepted = resp.json()
    return {"accepted": accepted, "job": poll_job(proxy.url, accepted["job_id"], timeout=240)}


def test_the_compose_copy_is_the_template_rendered_with_the_settings_defaults():
    committed = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert committed == render(NginxConfig.compose()), (
        "deploy/nginx/nginx.conf is stale: .venv/bin/python deploy/nginx/nginx_conf.py --compose -o deploy/nginx/nginx.conf")
    defaults = Settings(_env_file=None)
    pdf_limit_mb = defaults.max_upload_mb * defaults.max_files + 1  # + the api's 1 MiB for multipart framing
    assert f"client_max_body_size {pdf_limit_mb:g}m;" in committed
    assert f"client_max_body_size {defaults.max_dataset_mb + 1:g}m;" in committed


def test_an_upload_through_nginx_answers_with_its_job_and_the_course_is_built(proxy, course):
    accepted, job = course["accepted"], course["job"]
    assert accepted["job_id"] and accepted["status"] == "pending", accepted
    assert job["status"] == "completed", job
    got = httpx.get(f"{proxy.url}/api/courses/{job['result']['course_id']}", headers=ADMIN_HEADERS, timeout=10)
    assert got.status_code == 200 and got.json()["title"] == "Biology"
    assert '"POST /api/upload-pdfs HTTP/1.1" 202' in proxy.access_log


def test_a_websocket_chat_streams_through_nginx(proxy, course):
    course_id = course["job"]["result"]["course_id"]
    url = proxy.url.replace("http://", "ws://") + "/ws/chat"
    # A browser sends its page's Origin; the api accepts it only if nginx passed Host on whole.
    with ws_connect(url, additional_headers=ADMIN_HEADERS, origin=proxy.url, open_timeout=10) as ws:
        assert ws.response.headers["Server"].startswith("nginx")
        ws.send(json.dumps({"course_id": course_id, "question": "What do chloroplasts contain?"}))
        frames = []
        while not frames or frames[-1]["type"] not in ("end", "error"):
            frames.append(json.loads(ws.recv(timeout=60)))
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "session" and "token" in kinds and kinds[-2:] == ["sources", "end"], kinds
    assert "chlorophyll" in frames[-1]["answer"].lower() and frames[-2]["sources"]
    assert '"GET /ws/chat HTTP/1.1" 101' in proxy.access_log


def test_the_web_app_files_come_gzipped_with_security_headers(proxy, api):
    css = (WEB_DIR / "app.css").read_bytes()
    with httpx.stream("GET", f"{proxy.url}/static/app.css", headers={"Accept-Encoding": "gzip"}, timeout=10) as raw:
        sent = b"".join(raw.iter_raw())  # the bytes on the wire, not decoded
    assert raw.status_code == 200 and raw.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(sent) == css and len(sent) < len(css) / 2
    direct = httpx.get(f"http://{api}/static/app.css", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert "Content-Encoding" not in direct.headers  # nginx compressed it, not the api

    page = httpx.get(f"{proxy.url}/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Security-Policy"]  # the api's own policy
    for resp in (raw, page):
        assert resp.headers.get_list("X-Content-Type-Options") == ["nosniff"]  # once, not the api's and nginx's
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "camera=()" in resp.headers["Permissions-Policy"]


def test_the_live_feed_passes_through_nginx_unbuffered(proxy, course):
    """Each event reaches the browser as the api sends it: a buffering proxy would hold the first
    few small events (and the job's progress) until its buffer filled."""
    with httpx.stream("GET", f"{proxy.url}/api/events", headers={**ADMIN_HEADERS, "Accept-Encoding": "gzip"},
                      timeout=5) as feed:  # a read that waits past 5 s fails the test
        assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("text/event-stream")
        assert "Content-Encoding" not in feed.headers  # not gzipped: that too would hold events back
        assert feed.headers["Server"].startswith("nginx")
        assert next(line for line in feed.iter_lines() if line.startswith("event:")) == "event: ready"


def _upload(base: str, size: int) -> httpx.Response:
    """A multipart upload whose one file has `size` bytes (not a PDF: only the size matters here)."""
    return httpx.post(f"{base}/api/upload-pdfs", headers=ADMIN_HEADERS, data={"course_title": "Big"},
                      files={"files": ("big.pdf", b"%PDF-1.4\n" + b"0" * (size - 9), "application/pdf")}, timeout=60)


def test_a_body_over_the_api_limit_gets_413_from_nginx_and_one_under_it_reaches_the_api(proxy):
    limit = proxy.config.pdf_body_bytes
    assert limit == 2 * MIB and f"client_max_body_size {limit // MIB}m;" in proxy.conf.read_text()

    over = _upload(proxy.url, limit + 64 * 1024)
    assert over.status_code == 413 and over.json()["code"] == "request_too_large", over.text  # nginx's JSON
    assert over.headers["X-Frame-Options"] == "DENY"

    # Within nginx's limit but over the api's per-file one (1 MB): the api judges it.
    under = _upload(proxy.url, int(1.5 * MIB))
    assert under.status_code == 413 and under.json()["code"] == "file_too_large", under.text


def test_requests_over_the_rate_get_429_and_health_checks_are_not_limited(api, tmp_path):
    with running_nginx(tmp_path, [api], rate_per_second=1, burst=2) as nginx, \
            httpx.Client(base_url=nginx.url, headers=ADMIN_HEADERS, timeout=10) as client:
        answers = [client.get("/api/courses") for _ in range(15)]
        statuses = [r.status_code for r in answers]
        assert statuses[0] == 200 and 429 in statuses, statuses
        limited = next(r for r in answers if r.status_code == 429)
        assert limited.json()["code"] == "rate_limited" and limited.headers["Retry-After"] == "1"
        assert limited.headers["X-Frame-Options"] == "DENY"
        assert [client.get("/health").status_code for _ in range(5)] == [200] * 5


def test_a_client_sending_its_headers_slowly_is_cut_off(api, tmp_path):
    with running_nginx(tmp_path, [api], header_timeout="2s") as nginx:
        port = int(nginx.url.rsplit(":", 1)[1])
        closed = _trickle_headers(port, give_up_after=60)
        assert closed, "nginx kept a connection whose headers trickled in for 60 s"
        assert '"GET /api/courses HTTP/1.1" 408' in nginx.access_log, nginx.access_log


def _trickle_headers(port: int, give_up_after: float) -> bool:
    """Send a request line, then a header one byte at a time; True once the server closes the
    connection (or answers), False if it still takes bytes after `give_up_after` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /api/courses HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.5)
            if readable:
                with contextlib.suppress(ConnectionError):
                    sock.recv(65536)  # b"" (closed) or an answer: either way nginx ended it
                return True
            try:
                sock.sendall(b"a")
            except ConnectionError:
                return True
    return False


def test_no_api_answering_gives_a_json_502(tmp_path):
    dead = f"127.0.0.1:{free_port()}"
    with running_nginx(tmp_path, [dead]) as nginx:
        resp = httpx.get(f"{nginx.url}/api/courses", timeout=30)
    assert resp.status_code == 502 and resp.json()["code"] == "unavailable", resp.text
