"""Page images for "See the source": how long drawing a PDF page as an 800 px PNG takes, cold
(pypdfium2 + PNG encoding, in process and through the API) and from the cache (through the API on
loopback: identity, course access, the file). 30 pages of R-intro.pdf. Goals (issue 19): under
150 ms a page, cached under 10 ms."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import R_MANUALS, percentile, save  # noqa: E402

from procs import kill_group, poll_job, start_server  # noqa: E402
from profai.ingest.pdf_pages import find_text, render_png  # noqa: E402
from support import ADMIN_HEADERS  # noqa: E402

PDF = R_MANUALS / "R-intro.pdf"
PAGES = range(10, 40)  # 30 pages of running text, code and tables, past the contents
WIDTH = 800
CACHED_ROUNDS = 5


def figures(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"mean_ms": round(statistics.mean(ms), 2), "p50_ms": round(percentile(ms, 50), 2),
            "p95_ms": round(percentile(ms, 95), 2), "max_ms": round(max(ms), 2)}


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def in_process() -> tuple[dict[str, float], dict[str, float], int]:
    """Cold renders, straight into pypdfium2 (no HTTP), and passage look-ups; the mean PNG size."""
    render_png(PDF, 1, WIDTH)  # PDFium's fonts are loaded once per process
    renders, sizes, finds = [], [], []
    for page in PAGES:
        started = time.perf_counter()
        sizes.append(len(render_png(PDF, page, WIDTH)))
        renders.append(time.perf_counter() - started)
        finds.append(timed(find_text, PDF, page, "The value of the expression is a vector of the same length"))
    return figures(renders), figures(finds), round(statistics.mean(sizes))


def through_the_api() -> tuple[dict[str, float], dict[str, float]]:
    """The same pages asked of a real server: each once (drawn and cached), then again (from the cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        server, base = start_server({"PROFAI_DATA_DIR": tmp}, Path(tmp) / "server.log")
        try:
            with httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=60) as client, PDF.open("rb") as f:
                job_id = client.post("/api/upload-pdfs", data={"course_title": "R intro"},
                                     files={"files": (PDF.name, f, "application/pdf")}).json()["job_id"]
                # The job finished, so its indexing does not share the CPU with the pages measured.
                job = poll_job(base, job_id, timeout=600)
                url = f"/api/courses/{job['result']['course_id']}/files/0/pages/{{}}.png?width={WIDTH}"
                client.get(url.format(1)).raise_for_status()  # warm: the server's first PDFium call, its pool
                cold = [timed(lambda p: client.get(url.format(p)).raise_for_status(), page) for page in PAGES]
                cached = [timed(lambda p: client.get(url.format(p)).raise_for_status(), page)
                          for _ in range(CACHED_ROUNDS) for page in PAGES]
        finally:
            kill_group(server)
    return figures(cold), figures(cached)


def main() -> None:
    load_before = os.getloadavg()[0]  # other work on the machine slows every figure here
    render, find, png_bytes = in_process()
    api_cold, api_cached = through_the_api()
    save("page_render", {
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count(),
        "pdf": PDF.name, "pages": len(PAGES), "width_px": WIDTH, "png_kb_mean": round(png_bytes / 1024, 1),
        "render_in_process": render, "find_passage_in_process": find,
        "api_cold": api_cold, "api_cached": api_cached, "cached_requests": len(PAGES) * CACHED_ROUNDS,
        "goal": "under 150 ms a page, cached under 10 ms (p95)",
        "goal_met": api_cold["p95_ms"] < 150 and api_cached["p95_ms"] < 10,
    })


if __name__ == "__main__":
    main()
