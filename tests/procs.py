"""Start and stop real ProfAI processes (servers, workers) for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from support import FINISHED, TEST_ADMIN_KEY, admin_http, wait_until

PROFAI = [sys.executable, "-m", "profai.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A child in its own process group, so a test can kill it and everything it spawned."""
    # Every ProfAI process of a test takes the test admin key; the tests' own polling is not limited.
    full_env = {**os.environ, "API_KEY": TEST_ADMIN_KEY, "RATE_LIMIT_PER_SECOND": "0", **env}
    return subprocess.Popen(args, env=full_env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = start_process([*PROFAI, "serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", proc, log)
    return proc, url


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=timeout, interval=0.2,
               message=lambda: f"{url} to answer; log (tail):\n{log.read_text()[-3000:]}")


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


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command_line(pid: int) -> str:
    """The process's command line, "?" once it has gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return "?"


def poll_job(base: str, job_id: str, timeout: float, path: str = "/api/jobs/",
             until: Callable[[dict], bool] = lambda body: body["status"] in FINISHED) -> dict:
    """The job's status body once `until` holds for it (by default: once the job has finished)."""
    last: list = ["no answer"]  # the last body or error, for the failure message

    def matched() -> dict | None:
        try:
            body = last[0] = admin_http.get(f"{base}{path}{job_id}", timeout=5).json()
        except httpx.HTTPError as exc:  # the server may be restarting: ask again
            last[0] = exc
            return None
        return body if until(body) else None

    return wait_until(matched, timeout=timeout, interval=0.25, message=lambda: f"job {job_id} to match: {last[0]}")
