"""`profai serve`: one API process, or API_PROCESSES of them sharing the port.

An upload is Python work under one GIL (parsing the body, handing it to the disk), so one
process keeps one core busy however many clients send at once; several processes spread that
over the cores. Each binds the port with SO_REUSEPORT and the kernel spreads connections evenly.
The first process owns what must have a single owner in embedded mode: the local job runner
(the others only insert job rows, which it polls) and the vector store, which it serves to all
of them by a Chroma server child on the data directory (the files embedded Chroma uses). It
restarts any child that dies; children die with it."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from profai.settings import Settings
from profai.wiring import build_container

log = logging.getLogger(__name__)

_CHILD_ENV = "PROFAI_API_CHILD"


def serve(s: Settings, host: str, port: int) -> None:
    from profai.api import create_app

    if s.api_processes == 1:
        uvicorn.run(create_app(s), host=host, port=port, log_level="info", access_log=s.access_log)
        return
    if os.environ.get(_CHILD_ENV):  # one of the others: jobs go to the first process's runner
        runner = "polled" if s.job_runner == "local" else None
        _run(create_app(s, runner=runner), _listen(host, port), s)
        return
    children, ctx = _Children(), None
    try:
        if s.job_runner == "local" and not s.chroma_url:
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


def _run(app, sock: socket.socket, s: Settings) -> None:
    uvicorn.Server(uvicorn.Config(app, log_level="info", access_log=s.access_log)).run(sockets=[sock])


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

    def __init__(self):
        self._procs: dict[str, tuple[list[str], dict[str, str], subprocess.Popen]] = {}
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
