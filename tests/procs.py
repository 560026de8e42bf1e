"""Start and stop real ProfAI processes (servers, workers) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROFAI = [sys.executable, "-m", "profai.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A child in its own process group, so a test can kill it and everything it spawned."""
    full_env = {**os.environ, **env}
    return subprocess.Popen(args, env=full_env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = start_process([*PROFAI, "serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", proc, log)
    return proc, url


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout} s:\n{log.read_text()[-3000:]}")


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL, wait: float = 30) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def poll_job(base: str, job_id: str, timeout: float, path: str = "/api/jobs/") -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            body = httpx.get(f"{base}{path}{job_id}", timeout=5).json()
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if body["status"] in ("completed", "partially_completed", "failed", "cancelled"):
            return body
        time.sleep(0.25)
    raise TimeoutError(f"job {job_id} not finished after {timeout} s: {body}")
