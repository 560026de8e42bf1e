"""`make stack`: ProfAI in its production shape on this machine, in one command.

    nginx (deploy/nginx/)  ->  2 API processes (profai serve)  ->  PostgreSQL, Redis, a Chroma server
                               2 Celery workers (profai worker)  ->  the same

PostgreSQL and Redis are the machine's own (127.0.0.1:5432 with trust auth for `postgres`, and
127.0.0.1:6379); the database is created if missing. Everything else is started here and run by
honcho's process manager, which prefixes each line of output with its process's name. Once nginx
answers and the api is ready the URL is printed; Ctrl-C (or any process exiting) stops them all:
SIGTERM to each process group, SIGKILL to whatever is left 5 s later. With --restart-workers a
worker that exits (killed, out of memory) is started again a second later, as systemd or
Kubernetes would, instead of stopping the stack (bench/chaos.py kills them on purpose).

    .venv/bin/python deploy/stack.py [--port 8080] [--api-ports 5101,5102] [--chroma-port 8100]
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import sys
import threading
from pathlib import Path

import httpx
import psycopg
import redis
from honcho.manager import Manager

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).with_name("nginx")))
from nginx_conf import NginxConfig, nginx_binary, render  # noqa: E402

from profai.settings import Settings  # noqa: E402

BIN = Path(sys.executable).parent  # the virtual environment's scripts (chroma)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address nginx listens on (0.0.0.0 for the network)")
    p.add_argument("--port", type=int, default=8080, help="nginx's port: the URL to open")
    p.add_argument("--api-ports", default="5101,5102", help="one API process per port")
    p.add_argument("--chroma-port", type=int, default=8100)
    p.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    p.add_argument("--concurrency", type=int, default=1, help="job processes in each worker")
    p.add_argument("--restart-workers", action="store_true",
                   help="start a worker that exits again instead of stopping everything")
    p.add_argument("--data-dir", type=Path, default=ROOT / "data" / "stack",
                   help="uploads, the Chroma server's files, nginx's config and logs")
    p.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432",
                   help="the PostgreSQL server (a user that may create databases)")
    p.add_argument("--database", default="profai_stack", help="created on that server if missing")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Celery broker")
    return p.parse_args(argv)


def fail(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr)
    raise SystemExit(1)


def ensure_database(server: str, name: str) -> str:
    """The database's URL; creates it when the server has none by that name."""
    try:
        with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
                print(f"stack: created database {name}", flush=True)
    except psycopg.Error as exc:
        fail(f"PostgreSQL at {server} does not answer ({exc}).\n"
             "Start it, e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.")
    return f"{server}/{name}"


def check_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        fail(f"Redis at {url} does not answer ({exc}).\n"
             "Start it, e.g. `redis-server --daemonize yes --save '' --appendonly no`.")


def check_free(host: str, port: int) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            fail(f"port {port} is in use: choose others (--port, --api-ports, --chroma-port)")


def processes(args: argparse.Namespace, api_ports: list[int], conf: Path) -> dict[str, list[str]]:
    """Each process's name and command line."""
    nginx = nginx_binary()
    if not nginx:
        fail("nginx is not installed: `make system-deps` installs Debian's package")
    profai = [sys.executable, "-m", "profai.cli"]
    procs = {"chroma": [str(BIN / "chroma"), "run", "--host", "127.0.0.1", "--port", str(args.chroma_port),
                        "--path", str(args.data_dir / "chroma")]}
    for n, port in enumerate(api_ports, start=1):
        procs[f"api{n}"] = [*profai, "serve", "--host", "127.0.0.1", "--port", str(port)]
    for n in range(1, args.workers + 1):  # each names itself uniquely (profai.worker.main)
        worker = [*profai, "worker", "--concurrency", str(args.concurrency)]
        # A shell loop is the supervisor: honcho's SIGTERM to the process group stops it and the worker.
        procs[f"worker{n}"] = (["sh", "-c", f"while :; do {shlex.join(worker)}; sleep 1; done"]
                               if args.restart_workers else worker)
    procs["nginx"] = [nginx, "-c", str(conf), "-g", "daemon off;"]
    return procs


def service_env(data_dir: Path, database_url: str, redis_url: str, chroma_port: int) -> dict[str, str]:
    """What the api and worker processes are given on top of the environment (bench/load.py starts
    its own workers with it)."""
    return {"PROFAI_DATA_DIR": str(data_dir.resolve()), "DATABASE_URL": database_url, "JOB_RUNNER": "celery",
            "REDIS_URL": redis_url, "CHROMA_URL": f"http://127.0.0.1:{chroma_port}",
            "ENVIRONMENT": os.environ.get("ENVIRONMENT", "production"), "API_PROCESSES": "1",
            "ANONYMIZED_TELEMETRY": "False", "PYTHONUNBUFFERED": "1"}


def announce(url: str, database_url: str, stopped: threading.Event) -> None:
    """Print the URL once nginx passes a ready answer from the api (database, vectors, queue)."""
    while not stopped.is_set():
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        stopped.wait(0.5)
    else:
        return
    print(f"\n  ProfAI is up: {url}/   (Ctrl-C stops everything)\n"
          f"  The first admin account, if there is none yet:\n"
          f"    DATABASE_URL={database_url} {BIN / 'profai'} admin create --email you@example.com\n",
          flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    api_ports = [int(p) for p in args.api_ports.split(",") if p.strip()]
    for host, port in [(args.host, args.port), *(("127.0.0.1", p) for p in [*api_ports, args.chroma_port])]:
        check_free(host, port)
    check_redis(args.redis)
    database_url = ensure_database(args.postgres.rstrip("/"), args.database)

    env = {**os.environ, **service_env(args.data_dir, database_url, args.redis, args.chroma_port)}
    settings = Settings(_env_file=ROOT / ".env")  # the upload limits the api processes (run in ROOT) read
    nginx_dir = args.data_dir / "nginx"
    conf = nginx_dir / "nginx.conf"
    conf.write_text(render(NginxConfig.local(f"{args.host}:{args.port}", [f"127.0.0.1:{p}" for p in api_ports],
                                             nginx_dir, settings)))

    manager = Manager()
    for name, command in processes(args, api_ports, conf).items():
        # The Chroma server logs every request at INFO, several lines each.
        proc_env = {**env, "RUST_LOG": os.environ.get("RUST_LOG", "warn")} if name == "chroma" else env
        manager.add_process(name, shlex.join(command), env=proc_env, cwd=str(ROOT))
    url = f"http://{'127.0.0.1' if args.host in ('0.0.0.0', '::') else args.host}:{args.port}"
    stopped = threading.Event()
    threading.Thread(target=announce, args=(url, database_url, stopped), daemon=True).start()
    try:
        manager.loop()
    finally:
        stopped.set()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
