"""The distributed stack on this machine: jobs/min with 1 and 2 workers, time to 202 under load,
status reads from 2 API processes at 64 clients (wrk), and a crash run that kills a worker every
10 s for a minute and counts lost and duplicated jobs (both must be 0)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
sys.path[:0] = [str(Path(__file__).parents[1] / "tests"), str(Path(__file__).parents[1] / "tests" / "jobs")]
from celery_cluster import Cluster  # noqa: E402
from common import R_MANUALS, percentile, previous, save  # noqa: E402
from identities import user_key  # noqa: E402

from procs import free_port, kill_group, poll_job, start_process, wait_http  # noqa: E402
from profai.pipelines.pdf_to_course import course_collection  # noqa: E402
from profai.stores.vectors import ChromaVectorStore  # noqa: E402
from support import admin_http  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PDF = R_MANUALS / "R-data.pdf"  # 300 kB, ~40 pages: a realistic small upload
UPLOADS = 10
# One teacher uploads every job here: lift the per-teacher quota, which is not what is measured.
TEACHER_QUOTA = {"MAX_ACTIVE_JOBS": "100", "UPLOADS_PER_HOUR": "1000"}


_DATABASES: list[str] = []


def _database() -> str:
    name = f"profai_bench_{uuid.uuid4().hex[:8]}"
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    _DATABASES.append(name)
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def _drop_databases() -> None:
    with create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT").connect() as conn:
        for name in _DATABASES:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _upload_all(base: str, n: int, key: str) -> tuple[list[str], list[float]]:
    data = PDF.read_bytes()

    async def one(i: int) -> tuple[str, float]:
        started = time.perf_counter()
        resp = await client.post(f"{base}/api/upload-pdfs", data={"course_title": f"Bench {i}"},
                                 files={"files": (PDF.name, data, "application/pdf")})
        assert resp.status_code == 202, resp.text
        return resp.json()["job_id"], time.perf_counter() - started

    async with httpx.AsyncClient(timeout=60, headers={"X-API-Key": key}) as client:
        pairs = await asyncio.gather(*(one(i) for i in range(n)))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _throughput(root: Path, chroma: str, workers: int) -> dict:
    cluster = Cluster(root / f"w{workers}", _database(), chroma, JOB_LEASE_SECONDS="20",
                      JOB_HEARTBEAT_SECONDS="3", **TEACHER_QUOTA)
    try:
        for _ in range(workers):
            cluster.worker(concurrency=1)
        base = cluster.server()
        key = user_key(base, "teacher")
        started = time.monotonic()
        jobs, to_202 = asyncio.run(_upload_all(base, UPLOADS, key))
        results = [poll_job(base, j, timeout=900) for j in jobs]
        minutes = (time.monotonic() - started) / 60
        assert all(r["status"] == "completed" for r in results)
        return {"workers": workers, "jobs": UPLOADS, "jobs_per_min": round(UPLOADS / minutes, 1),
                "to_202_p50_ms": round(percentile(to_202, 50) * 1000), "to_202_p95_ms": round(percentile(to_202, 95) * 1000)}
    finally:
        cluster.close()


def _wrk(url: str, connections: int, key: str, seconds: int = 15) -> subprocess.Popen:
    """Status reads as the job's teacher: every request checks its API key (cached per process)."""
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                             "-H", f"X-API-Key: {key}", url],
                            stdout=subprocess.PIPE, text=True)


def _parse_wrk(out: str) -> tuple[float, float, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return rps, ms("50%"), ms("99%")


def _status_reads(root: Path, chroma: str, busy: bool) -> dict:
    cluster = Cluster(root / f"reads-{busy}", _database(), chroma, **TEACHER_QUOTA)
    try:
        apis = [cluster.server(), cluster.server()]
        key = user_key(apis[0], "teacher")
        if busy:  # workers embedding on the same 2 cores while the reads run
            cluster.worker(concurrency=2)
            asyncio.run(_upload_all(apis[0], 6, key))
            time.sleep(5)
        job_id = asyncio.run(_upload_all(apis[0], 1, key))[0][0]
        runs = [_wrk(f"{api}/api/jobs/{job_id}", 32, key) for api in apis]
        figures = [_parse_wrk(p.communicate()[0]) for p in runs]
        return {"api_processes": 2, "clients": 64, "workers_busy": busy,
                "requests_per_s": round(sum(f[0] for f in figures)),
                "p50_ms": round(max(f[1] for f in figures), 1), "p99_ms": round(max(f[2] for f in figures), 1)}
    finally:
        cluster.close()


def _crash_run(root: Path, chroma: str) -> dict:
    cluster = Cluster(root / "crash", _database(), chroma, **TEACHER_QUOTA)
    try:
        workers = [cluster.worker(concurrency=1), cluster.worker(concurrency=1)]
        base = cluster.server()
        jobs, _ = asyncio.run(_upload_all(base, 24, user_key(base, "teacher")))
        kills = 0
        for _ in range(6):  # a minute: kill the oldest worker every 10 s, start a new one
            time.sleep(10)
            kill_group(workers.pop(0), signal.SIGKILL)
            kills += 1
            workers.append(cluster.worker(concurrency=1))
        results = {j: poll_job(base, j, timeout=900) for j in jobs}
        store = ChromaVectorStore.server(chroma)
        courses = admin_http.get(f"{base}/api/courses?limit=500").json()["courses"]
        per_job = {j: sum(1 for c in courses if c["title"] == r["result"]["course_title"]) if r.get("result") else 0
                   for j, r in results.items()}
        lost = sum(1 for r in results.values() if r["status"] != "completed")
        duplicated = sum(1 for j, r in results.items() if r.get("result") and (
            per_job[j] != 1 or store.count(course_collection(j)) != r["result"]["passages"]))
        return {"jobs": len(jobs), "worker_kills": kills, "lost": lost, "duplicated": duplicated,
                "rerun_after_kill": sum(1 for r in results.values() if r["attempts"] > 1)}
    finally:
        cluster.close()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default="throughput,reads,crash", help="which measurements to (re)run")
    parts = parser.parse_args().parts.split(",")
    figures = previous("scale", derived=("goals",))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        port = free_port()
        chroma_proc = start_process([str(Path(sys.executable).parent / "chroma"), "run", "--host", "127.0.0.1",
                                     "--port", str(port), "--path", str(root / "chroma")], {}, root / "chroma.log")
        chroma = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{chroma}/api/v2/heartbeat", chroma_proc, root / "chroma.log")
            figures["document"] = PDF.name
            if "throughput" in parts:
                figures["throughput"] = [_throughput(root, chroma, w) for w in (1, 2)]
            if "reads" in parts:
                figures["status_reads"] = [_status_reads(root, chroma, busy) for busy in (False, True)]
            if "crash" in parts:
                figures["crash_run"] = _crash_run(root, chroma)
        finally:
            kill_group(chroma_proc, signal.SIGTERM)
            _drop_databases()
    reads = figures["status_reads"]
    figures["goals"] = {"status_read_p99_under_100ms_idle": reads[0]["p99_ms"] < 100,
                        "status_read_p99_under_100ms_busy": reads[1]["p99_ms"] < 100,
                        "crash_run_zero_lost_and_duplicated": figures["crash_run"]["lost"] == 0
                        and figures["crash_run"]["duplicated"] == 0}
    save("scale", figures)


if __name__ == "__main__":
    main()
