"""deploy/stack.py as a benchmark runs it (bench/load.py, bench/chaos.py): on ports, a database
(dropped and made again) and a data folder (WORK/stack, its output in WORK/stack.log) of its own, so
that it never meets tests or another stack on the same machine; stopped with Ctrl-C, as a terminal
would."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "deploy"), str(ROOT / "tests")]
from stack import service_env  # noqa: E402  (deploy/stack.py)

from procs import alive, descendants, wait_http  # noqa: E402


@dataclass
class StackRun:
    work: Path
    port: int
    api_ports: str
    chroma_port: int
    database: str
    redis: str
    postgres: str = "postgresql://postgres@127.0.0.1:5432"
    workers: int = 2
    concurrency: int = 1
    restart_workers: bool = False
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"{self.postgres}/{self.database}"

    @property
    def log(self) -> Path:
        return self.work / "stack.log"

    def worker_env(self, env: dict[str, str]) -> dict[str, str]:
        """`env` and what deploy/stack.py gives the workers it runs, for workers started apart."""
        return {**env, **service_env(self.work / "stack", self.database_url, self.redis, self.chroma_port)}

    def start(self, env: dict[str, str], timeout: float = 300) -> subprocess.Popen:
        """A fresh database, then the stack; returns once nginx passes a ready answer from the api."""
        with psycopg.connect(f"{self.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        command = [sys.executable, str(ROOT / "deploy" / "stack.py"), "--port", str(self.port),
                   "--api-ports", self.api_ports, "--chroma-port", str(self.chroma_port),
                   "--workers", str(self.workers), "--concurrency", str(self.concurrency),
                   "--data-dir", str(self.work / "stack"), "--postgres", self.postgres,
                   "--database", self.database, "--redis", self.redis,
                   *(["--restart-workers"] if self.restart_workers else [])]
        self.proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(f"{self.url}/api/v1/health", self.proc, self.log, timeout=timeout)
        return self.proc

    def stop(self) -> None:
        """Ctrl-C, as a terminal sends it; whatever is left 60 s later is killed (honcho runs each
        process in a session of its own, out of reach of a signal to the stack's group)."""
        if self.proc is None:
            return
        started = descendants(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for pid in started:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
