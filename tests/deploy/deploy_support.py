"""Helpers for the tests of deploy/: where its files are, and the real nginx as a child process."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from procs import free_port, kill_group, wait_http

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# deploy/ holds scripts, not a package: its modules are imported from their folders.
for folder in (DEPLOY, DEPLOY / "nginx"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from nginx_conf import NginxConfig, body_limits, nginx_binary, render  # noqa: E402, F401  (re-exported for the tests)


class Nginx:
    """A running nginx: its URL, its files, its process."""

    def __init__(self, url: str, config: NginxConfig, conf: Path, proc: subprocess.Popen):
        self.url, self.config, self.conf, self.proc = url, config, conf, proc
        self.prefix = conf.parent

    @property
    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running_nginx(prefix: Path, api_servers: list[str], settings=None, **values) -> Iterator[Nginx]:
    """nginx with a config rendered from the template into `prefix`, on a free port, in the
    foreground (not a daemon), stopped at the end. A config nginx refuses fails the start, with
    nginx's message."""
    nginx = nginx_binary()
    assert nginx, "nginx is not installed: run `make system-deps` (Debian's nginx package)"
    port = free_port()
    config = NginxConfig.local(f"127.0.0.1:{port}", api_servers, prefix, settings, **values)
    conf = prefix / "nginx.conf"
    conf.write_text(render(config))
    log = prefix / "stderr.log"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-g", "daemon off;"], stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    running = Nginx(f"http://127.0.0.1:{port}", config, conf, proc)
    try:
        wait_http(f"{running.url}/nginx-health", proc, log, timeout=30)
        yield running
    finally:
        kill_group(proc, signal.SIGTERM)  # nginx's fast shutdown; SIGKILL if it lingers
