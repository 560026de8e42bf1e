"""A 236-page textbook (R-exts.pdf) to a course in embedded mode: pages/s, seconds per step,
peak RSS of the whole process tree. Goal: under 60 s and under 1.5 GB on 2 cores."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import R_MANUALS, PeakRss, save  # noqa: E402

from profai.domain import CLI  # noqa: E402
from profai.services import courses, jobs  # noqa: E402
from profai.services.uploads import IncomingFile  # noqa: E402
from profai.settings import Settings  # noqa: E402
from profai.wiring import build_container  # noqa: E402


def main(pdf: Path = R_MANUALS / "R-exts.pdf") -> None:
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
        ctx = build_container(Settings(_env_file=None, PROFAI_DATA_DIR=Path(tmp)), runner="local")
        ctx.runner.start()
        started = time.monotonic()
        with pdf.open("rb") as f:
            job = courses.start_course_job(ctx, CLI, "Writing R Extensions", [IncomingFile(pdf.name, f)])
        while (job := jobs.get_job(ctx, CLI, job.id)).status not in ("completed", "failed"):
            time.sleep(0.05)
        total = time.monotonic() - started
        ctx.close()
    assert job.status == "completed", job.error
    r = job.result
    save("ingest_pdf", {
        "document": pdf.name, "pages": r["pages"], "passages": r["passages"], "modules": r["modules"],
        "lessons": r["lessons"], "total_seconds": round(total, 2), "pages_per_second": round(r["pages"] / total, 1),
        "seconds_per_step": r["seconds"], "peak_rss_mb": round(rss.peak_mb),
        "goal": "under 60 s and 1.5 GB", "goal_met": total < 60 and rss.peak_mb < 1536,
    })


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))
