"""50 concurrent uploads of a 1 MB PDF to a real server while course jobs run, in 3 bursts:
p50/p95 time to the 202. Goal: p95 under 300 ms (the seeds promise under 1 s)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import R_MANUALS, percentile, save  # noqa: E402

from procs import kill_group, start_server  # noqa: E402

CONCURRENT = 50
BURSTS = 3


def _encoded(url: str, data: bytes, n: int) -> httpx.Request:
    """An upload with its multipart body built in advance, so the timed part is the server's
    work and the sending, not the client encoding 50 MB on the same two cores."""
    request = httpx.Request("POST", url, data={"course_title": f"Upload {n}"},
                            files={"files": (f"book-{n}.pdf", data, "application/pdf")})
    request.read()
    return request


async def _upload(client: httpx.AsyncClient, request: httpx.Request) -> float:
    started = time.perf_counter()
    resp = await client.send(request)
    elapsed = time.perf_counter() - started
    assert resp.status_code == 202, resp.text
    return elapsed


async def _burst(base: str, data: bytes, n: int = CONCURRENT, first: int = 0) -> list[float]:
    requests = [_encoded(f"{base}/api/upload-pdfs", data, first + i) for i in range(n)]
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(*(_upload(client, r) for r in requests))


def main() -> None:
    pdf = R_MANUALS / "R-exts.pdf"  # 1.05 MB, 236 pages
    data = pdf.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PROFAI_DATA_DIR": tmp, "MAX_WORKERS": "3"}
        server, base = start_server(env, Path(tmp) / "server.log")
        try:
            background = [asyncio.run(_burst(base, data, 1, 1000 + i)) for i in range(3)]  # jobs that are running meanwhile
            time.sleep(3)
            running = httpx.get(f"{base}/api/worker-stats").json()["running_jobs"]
            bursts = []
            for b in range(BURSTS):  # several bursts, so one unlucky moment on a shared machine weighs less
                bursts.append(asyncio.run(_burst(base, data, first=b * CONCURRENT)))
                time.sleep(2)
            times = [t for burst in bursts for t in burst]
        finally:
            kill_group(server)
    save("upload_latency", {
        "concurrent_uploads": CONCURRENT, "file_mb": round(len(data) / 1e6, 2), "jobs_running_meanwhile": len(running),
        "background_jobs": len(background), "bursts": BURSTS,
        "p95_ms_per_burst": [round(percentile(burst, 95) * 1000) for burst in bursts], "p50_ms": round(percentile(times, 50) * 1000),
        "p95_ms": round(percentile(times, 95) * 1000), "max_ms": round(max(times) * 1000),
        "cpus": os.cpu_count(), "goal": "p95 under 300 ms", "goal_met": percentile(times, 95) < 0.3,
    })


if __name__ == "__main__":
    main()
