"""Render nginx.conf.template into a config for nginx in front of ProfAI.

The body limits are the api's own (services/uploads.py's rules for MAX_UPLOAD_MB, MAX_FILES and
MAX_DATASET_MB), so nginx lets through exactly what the api would take and refuses what it never
would. Run it with the repository's virtual environment:

  .venv/bin/python deploy/nginx/nginx_conf.py --compose -o deploy/nginx/nginx.conf      # Compose's copy
  .venv/bin/python deploy/nginx/nginx_conf.py --listen 127.0.0.1:8080 \\
      --api 127.0.0.1:5101 --api 127.0.0.1:5102 --prefix /srv/profai/nginx --user www-data \\
      -o /srv/profai/nginx/nginx.conf

The second form reads MAX_UPLOAD_MB and friends from the environment and .env, as `profai serve`
does; --compose uses the settings' defaults, as the Compose file does. Then, for example:
  nginx -c /srv/profai/nginx/nginx.conf -g 'daemon off;'
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profai.services.uploads import csv_uploads, pdf_uploads
from profai.settings import Settings

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
MIB = 1024 * 1024


def body_limits(s: Settings) -> tuple[int, int]:
    """The largest request bodies an api with these settings takes, in bytes: a course's PDFs,
    a CSV dataset."""
    return pdf_uploads(s).max_body, csv_uploads(s, "datasets").max_body


def nginx_binary() -> str | None:
    """Debian's nginx (`make system-deps` installs it); /usr/sbin may be off a user's PATH."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


@dataclass
class NginxConfig:
    """What varies between the places nginx runs; the rest is the template's."""

    listen: str
    api_servers: list[str]
    user: str | None  # None: no `user` line (nginx not started as root keeps its own user)
    pid: str
    error_log: str
    access_log: str
    temp_dir: str
    resolver: str | None = None  # needed when api_servers are names that change (Compose)
    what: str = ""
    # The api's settings, for its upload limits; by default the settings' defaults (not read from
    # the environment), as Compose's api runs with.
    limits: Settings = field(default_factory=Settings.model_construct)
    rate_per_second: int = 100  # per client address, all routes but health and uploads
    burst: int = 400
    uploads_per_minute: int = 30  # PDF and CSV uploads per client address
    upload_burst: int = 20
    header_timeout: str = "30s"  # as the api's CLIENT_HEADER_TIMEOUT
    body_timeout: str = "120s"  # longer than the api's CLIENT_BODY_TIMEOUT, which answers first

    @classmethod
    def local(cls, listen: str, api_servers: list[str], prefix: Path, s: Settings | None = None, **values) -> NginxConfig:
        """nginx from Debian's package run by hand: pid, logs and temporary files under `prefix`."""
        prefix = prefix.resolve()
        (prefix / "tmp").mkdir(parents=True, exist_ok=True)  # nginx makes the folders inside, not this one
        # Started as root, nginx's workers switch to `user`; they must reach the files under
        # `prefix`, which may be private to the one who started it.
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        paths: dict[str, Any] = {"user": user, "pid": str(prefix / "nginx.pid"), "error_log": str(prefix / "error.log"),
                 "access_log": str(prefix / "access.log"), "temp_dir": str(prefix / "tmp")}
        return cls(listen=listen, api_servers=api_servers, limits=s or Settings(),
                   **{"what": "Run by hand or by `make stack`.", **paths, **values})

    @classmethod
    def compose(cls) -> NginxConfig:
        """deploy/docker-compose.yml's nginx (the official image): `api` looked up in Docker's DNS
        and looked up again every 10 s, so scaled or restarted api containers are used (`resolve`,
        nginx 1.27.3 or newer)."""
        return cls(listen="80", api_servers=["api:5001 resolve"], user="nginx", pid="/tmp/nginx.pid",
                   error_log="/dev/stderr", access_log="/dev/stdout", temp_dir="/var/cache/nginx",
                   resolver="resolver 127.0.0.11 valid=10s ipv6=off;",
                   what="Compose: the `nginx` service mounts this file as /etc/nginx/nginx.conf.")

    @property
    def pdf_body_bytes(self) -> int:
        return body_limits(self.limits)[0]

    @property
    def csv_body_bytes(self) -> int:
        return body_limits(self.limits)[1]


def _size(n: int) -> str:
    return f"{n // MIB}m" if n % MIB == 0 else str(n)


def render(c: NginxConfig) -> str:
    """The config text; fails on a placeholder left without a value."""
    values = {
        "WHAT": c.what,
        "SUMMARY": (f"MAX_UPLOAD_MB={c.limits.max_upload_mb:g} MAX_FILES={c.limits.max_files} "
                    f"MAX_DATASET_MB={c.limits.max_dataset_mb:g}, "
                    f"{c.rate_per_second} r/s (burst {c.burst}), {c.uploads_per_minute} uploads/min (burst "
                    f"{c.upload_burst})"),
        "USER": f"user {c.user};" if c.user else "# user: nginx keeps the user that started it",
        "PID": c.pid, "ERROR_LOG": c.error_log, "ACCESS_LOG": c.access_log, "TEMP_DIR": c.temp_dir,
        "RESOLVER": c.resolver or "# resolver: none needed, the api addresses below are fixed",
        "API_SERVERS": "\n".join(f"        server {server};" for server in c.api_servers),
        "LISTEN": c.listen,
        "PDF_BODY_LIMIT": _size(c.pdf_body_bytes), "CSV_BODY_LIMIT": _size(c.csv_body_bytes),
        "RATE": f"{c.rate_per_second}r/s", "BURST": str(c.burst),
        "UPLOAD_RATE": f"{c.uploads_per_minute}r/m", "UPLOAD_BURST": str(c.upload_burst),
        "HEADER_TIMEOUT": c.header_timeout, "BODY_TIMEOUT": c.body_timeout,
    }
    if not c.api_servers:
        raise ValueError("nginx needs at least one api server")
    return re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], TEMPLATE.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compose", action="store_true", help="the config deploy/docker-compose.yml mounts")
    parser.add_argument("--listen", default="127.0.0.1:8080", help="address and port nginx listens on")
    parser.add_argument("--api", action="append", default=[], help="an api process, host:port (repeat)")
    parser.add_argument("--prefix", type=Path, default=Path("data/nginx"), help="pid, logs and temporary files")
    parser.add_argument("--user", help="the workers' user when nginx starts as root (default: root's own, so "
                                       "that they reach a private prefix; www-data for a server)")
    parser.add_argument("-o", "--output", type=Path, help="write here (default: standard output)")
    args = parser.parse_args(argv)
    if args.compose:
        config = NginxConfig.compose()
    else:
        config = NginxConfig.local(args.listen, args.api or ["127.0.0.1:5001"], args.prefix,
                                   **({"user": args.user} if args.user else {}))
    text = render(config)
    if args.output:
        args.output.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
