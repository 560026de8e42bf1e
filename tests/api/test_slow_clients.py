"""Slow clients against a real `profai serve`, over raw sockets: a connection that sends nothing,
headers that never end or never stop, and an upload body that stalls are each closed, and the
server says so in one log line, not a traceback."""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import make_pdf
from procs import kill_group, start_server
from support import TEST_ADMIN_KEY, admin_http

pytestmark = pytest.mark.slow

WAIT = 15.0  # far past the 1 s limits below: a connection still open after this was not closed


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, int, Path]]:
    root = tmp_path_factory.mktemp("slow-clients")
    log = root / "server.log"
    env = {"PROFAI_DATA_DIR": str(root / "data"), "API_KEY": TEST_ADMIN_KEY, "COMPUTE_PROCESSES": "1",
           "CLIENT_HEADER_TIMEOUT": "1", "CLIENT_BODY_TIMEOUT": "1"}
    proc, url = start_server(env, log)
    try:
        yield url, int(url.rsplit(":", 1)[1]), log
    finally:
        kill_group(proc, signal.SIGTERM)


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(WAIT)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """What the server sent before it closed the connection (a reset counts as closed)."""
    received = b""
    try:
        while piece := sock.recv(65536):
            received += piece
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for {WAIT} s; it sent {received[:200]!r}")
    finally:
        sock.close()
    return received


def _upload(pdf: bytes) -> tuple[bytes, bytes]:
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="course_title"\r\n\r\nBiology\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="files"; filename="bio.pdf"\r\n'
            b"Content-Type: application/pdf\r\n\r\n" + pdf + b"\r\n--XyZ--\r\n")
    head = (f"POST /api/upload-pdfs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {TEST_ADMIN_KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head, body


def test_a_connection_that_sends_nothing_is_closed(server):
    _, port, _ = server
    assert _until_closed(_connect(port)) == b""


def test_headers_that_never_end_are_closed(server):
    _, port, _ = server
    sock = _connect(port)
    sock.sendall(b"POST /api/upload-pdfs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
    assert _until_closed(sock) == b""


def test_headers_that_never_stop_are_refused(server):
    _, port, _ = server
    sock = _connect(port)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed while we still sent: refused too
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (3 * 1024 * 1024))
    received = _until_closed(sock)
    # The 431 may be lost: closing with our unread megabytes pending makes the kernel send a reset.
    assert received == b"" or received.startswith(b"HTTP/1.1 431 ")


def test_a_stalled_upload_gets_408_then_the_connection_is_closed(server, tmp_path):
    url, port, log = server
    head, body = _upload(make_pdf(tmp_path / "bio.pdf").read_bytes())
    sock = _connect(port)
    sock.sendall(head + body[:2000])
    received = _until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 "), received[:200]
    assert b'"code":"request_timeout"' in received
    # The server is fine, and kept nothing of the upload.
    assert admin_http.get(f"{url}/api/courses").json()["total"] == 0
    assert not [p for p in (log.parent / "data" / "uploads").rglob("*") if p.is_file()]


def test_a_whole_upload_on_one_connection_still_works(server, tmp_path):
    url, port, _ = server
    head, body = _upload(make_pdf(tmp_path / "bio.pdf").read_bytes())
    sock = _connect(port)
    sock.sendall(head + body)
    assert sock.recv(65536).startswith(b"HTTP/1.1 202 ")
    sock.close()


def test_the_log_has_one_line_per_refusal_and_no_traceback(server):
    url, _, log = server
    resp = admin_http.post(f"{url}/api/upload-pdfs", data={"course_title": "Notes"},
                           files={"files": ("notes.pdf", b"plain text, not a PDF\n" * 20, "application/pdf")})
    assert resp.json()["code"] == "not_a_pdf"
    text = log.read_text()
    assert "Traceback" not in text and "never retrieved" not in text
    assert text.count("upload refused (415 not_a_pdf): notes.pdf: ") == 1
