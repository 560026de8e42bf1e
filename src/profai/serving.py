"""`profai serve`: one API process, or API_PROCESSES of them sharing the port.

An upload is Python work under one GIL (parsing the body, handing it to the disk), so one
process keeps one core busy however many clients send at once; several processes spread that
over the cores. Each binds the port with SO_REUSEPORT and the kernel spreads connections evenly.
The first process owns what must have a single owner in embedded mode: the local job runner
(the others only insert job rows, which it polls) and the vector store, which it serves to all
of them by a Chroma server child on the data directory (the files embedded Chroma uses). It
restarts any child that dies; children die with it.

Slow clients: uvicorn closes an idle keep-alive connection (timeout_keep_alive) but bounds
neither how long a request's headers may take nor how much of them may come, and after an early
response (413, 408) it reads whatever body still trickles in for as long as it comes. _GuardedHttp
adds those bounds, as nginx's client_header_timeout and large_client_header_buffers do; pauses
inside an upload's body are api/multipart.py's (CLIENT_BODY_TIMEOUT, then 408)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from profai.observability import metrics
from profai.settings import Settings
from profai.wiring import build_container

log = logging.getLogger(__name__)

_CHILD_ENV = "PROFAI_API_CHILD"


def serve(s: Settings, host: str, port: int) -> None:
    from profai.api import create_app

    if (folder := metrics.folder()) is not None and not os.environ.get(_CHILD_ENV):
        metrics.wipe_stale(folder)  # the first process: what processes of earlier runs left goes
    if s.api_processes == 1:
        _Server(uvicorn.Config(create_app(s), host=host, port=port, **_uvicorn_options(s))).run()
        return
    if os.environ.get(_CHILD_ENV):  # one of the others: jobs go to the first process's runner
        runner = "polled" if s.job_runner == "local" else None
        _run(create_app(s, runner=runner), _listen(host, port), s)
        return
    children, ctx = _Children(), None
    try:
        if s.job_runner == "local" and s.vector_backend == "embedded":
            s = s.model_copy(update={"chroma_url": _start_chroma(children, s.data_dir / "chroma")})
        sock = _listen(host, port)  # before the others start, so a port in use fails here
        ctx = build_container(s)  # migrates the database before the others open it
        env = {_CHILD_ENV: "1", **({"CHROMA_URL": s.chroma_url} if s.chroma_url else {})}
        for n in range(1, s.api_processes):
            children.start(f"api-{n}", [sys.executable, "-m", "profai.cli", "serve", "--host", host,
                                        "--port", str(port)], env)
        children.watch()
        _run(create_app(s, ctx), sock, s)
    finally:  # jobs hand themselves back first, while the vector store still answers
        if ctx is not None:
            ctx.close()
        children.stop()


def _run(app: FastAPI, sock: socket.socket, s: Settings) -> None:
    _Server(uvicorn.Config(app, **_uvicorn_options(s))).run(sockets=[sock])


class _Server(uvicorn.Server):
    """uvicorn's server, which first ends the live feeds when it shuts down: it waits for every
    open response to finish, and a feed (GET /api/events) never would by itself."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from profai.api.event_stream import STREAMS

        STREAMS.close_all()
        await super().shutdown(sockets)


def _uvicorn_options(s: Settings) -> dict[str, Any]:
    """What every API process runs with. Not limit_concurrency: past it uvicorn answers 503 to
    every new request while the connections holding it stay, so slow clients would shut out
    the rest; the timeouts below end those connections instead. Not h11_max_incomplete_event_size:
    it bounds h11's parser, and the protocol is httptools (faster for uploads), whose headers
    _GuardedHttp bounds."""
    guarded = type("GuardedHttp", (_GuardedHttp,), {"header_seconds": s.client_header_timeout,
                                                     "linger_seconds": s.client_body_timeout})
    options: dict[str, Any] = {"log_level": "info", "access_log": s.access_log, "http": guarded, "timeout_keep_alive": 5}
    if s.log_format == "json":  # uvicorn's loggers go to the root logger's JSON lines, not its own text
        options["log_config"] = None
    return options


class _GuardedHttp(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, with three bounds a proxy in front would otherwise add:
    - a request's line and headers must all come within `header_seconds` of the connection
      opening or of the previous request ending (a client that connects and dribbles headers
      holds a connection for ever otherwise);
    - and at most MAX_HEADER_BYTES of them (httptools itself has no limit): 431;
    - after a response sent before its request's body had all come (a refusal, a 408), the rest
      of the body must come within `linger_seconds`, else the connection is closed. A client that
      finishes sending then reads its answer, as nginx's lingering close allows; one that trickles
      on is cut off."""

    header_seconds = 30.0
    linger_seconds = 30.0
    # Above one socket read (256 KB), so a read that ends one body and begins the next request
    # cannot pass for headers alone.
    MAX_HEADER_BYTES = 1024 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._in_headers, self._header_bytes, self._body_done = True, 0, True
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_headers and not self.transport.is_closing():  # all of this read was headers
            self._header_bytes += len(data)
            if self._header_bytes > self.MAX_HEADER_BYTES:
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"content-length: 0\r\nconnection: close\r\n\r\n")
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers, self._header_bytes = True, 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._in_headers, self._body_done = False, False
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._body_done = True
        if self._linger_timer is not None:  # the rest of the body came: now idle, awaiting a request
            self._linger_timer.cancel()
            self._linger_timer = None
            self._arm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self._body_done and not self.pipeline and not self.transport.is_closing():
            self._linger_timer = self.loop.call_later(self.linger_seconds, self._linger_over)

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _headers_late(self) -> None:
        self._header_timer = None
        serving = self.cycle is not None and not self._in_headers and not self.cycle.response_complete
        if not serving and not self.transport.is_closing():
            self.transport.close()

    def _linger_over(self) -> None:
        self._linger_timer = None
        if not self._body_done and not self.transport.is_closing():
            self.transport.close()

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._linger_timer = None


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _start_chroma(children: _Children, path: Path) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    chroma = str(Path(sys.executable).parent / "chroma")
    children.start("chroma", [chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)],
                   {"RUST_LOG": "warn"})  # not a line per request
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the Chroma server on {path} did not start in 60 s")


class _Children:
    """The first process's children, each started again if it dies, all stopped with it."""

    def __init__(self) -> None:
        self._procs: dict[str, tuple[list[str], dict[str, str], subprocess.Popen[bytes]]] = {}
        self._stopping = threading.Event()

    def start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        wrapped = [sys.executable, "-m", "profai.orphans", str(os.getpid()), *args]
        self._procs[name] = (args, env, subprocess.Popen(wrapped, env={**os.environ, **env}))

    def watch(self) -> None:
        threading.Thread(target=self._watch, name="api-children", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            for name, (args, env, proc) in list(self._procs.items()):
                if proc.poll() is not None and not self._stopping.is_set():
                    log.warning("%s exited with %s; starting it again", name, proc.returncode)
                    self.start(name, args, env)

    def stop(self) -> None:
        self._stopping.set()
        procs = [proc for *_, proc in self._procs.values()]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
