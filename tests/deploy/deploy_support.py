"""Helpers for the tests of deploy/: where its files are, the real nginx as a child process, and
the processes a supervisor started."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from procs import free_port, kill_group, wait_http

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# deploy/ holds scripts, not a package: its modules are imported from their folders.
for folder in (DEPLOY, DEPLOY / "nginx"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from nginx_conf import NginxConfig, body_limits, render  # noqa: E402, F401  (re-exported for the tests)


def nginx_binary() -> str:
    """Debian's nginx (`make system-deps` installs it); /usr/sbin may be off a user's PATH."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    assert found, "nginx is not installed: run `make system-deps` (Debian's nginx package)"
    return found


class Nginx:
    """A running nginx: its URL, its files, its process."""

    def __init__(self, url: str, config: NginxConfig, conf: Path, proc: subprocess.Popen):
        self.url, self.config, self.conf, self.proc = url, config, conf, proc
        self.prefix = conf.parent

    @property
    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in (self.prefix / "error.log", self.prefix / "stderr.log") if p.exists())


@contextlib.contextmanager
def running_nginx(prefix: Path, api_servers: list[str], settings=None, **values) -> Iterator[Nginx]:
    """nginx with a config rendered from the template into `prefix`, on a free port, in the
    foreground (not a daemon), stopped at the end."""
    port = free_port()
    config = NginxConfig.local(f"127.0.0.1:{port}", api_servers, prefix, settings, **values)
    conf = prefix / "nginx.conf"
    conf.write_text(render(config))
    nginx = nginx_binary()
    checked = subprocess.run([nginx, "-t", "-c", str(conf), "-g", "daemon off;"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    log = prefix / "stderr.log"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    running = Nginx(f"http://127.0.0.1:{port}", config, conf, proc)
    try:
        wait_http(f"{running.url}/nginx-health", proc, log, timeout=30)
        yield running
    finally:
        kill_group(proc, signal.SIGTERM)  # nginx's fast shutdown; SIGKILL if it lingers


def http_status(url: str, **kwargs) -> int | None:
    """The status of a GET, or None when nothing answers."""
    try:
        return httpx.get(url, timeout=5, **kwargs).status_code
    except httpx.HTTPError:
        return None


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
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return "?"
