"""PDF textbooks to courses in embedded mode: seconds until the course can be read (its id is in
the job's result) and until it can be searched (the job completed), seconds per step and peak RSS
of the whole process tree; beside them, in the same run, a plain LangChain script's time to an
index of the same PDF (bench/langchain_index.py, torch in the comparison venv).

Goals on 2 cores: a ~100-page manual readable in < 2.5 s and searchable in < 12 s; R-exts.pdf
(236 pages) searchable in < 17 s; peak RSS under 1.5 GB.

Each run is a fresh process. With --baseline REV, the same runs of that commit (checked out in
bench/work/) are interleaved with these, so the two are measured on the same noisy machine.

Usage: python bench/ingest_pdf.py [--runs N] [--baseline REV] [--no-langchain] [pdf ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
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

DOCUMENTS = (R_MANUALS / "R-intro.pdf", R_MANUALS / "R-exts.pdf")


def ingest(pdf: Path) -> dict:
    """One course from `pdf` in a fresh data directory; the clock starts at the upload."""
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
        ctx = build_container(Settings(_env_file=None, PROFAI_DATA_DIR=Path(tmp)), runner="local")
        ctx.runner.start()
        # A server has its models loaded before the first upload: here, and in the compute processes
        # (asked again: done once these are, as each process takes its tasks in turn; a --baseline
        # older than that returns nothing).
        ctx.embedder.embed(["warm up"])
        for started in ctx.compute.start() or []:
            started.result()
        started = time.monotonic()
        with pdf.open("rb") as f:
            job = courses.start_course_job(ctx, CLI, pdf.stem, [IncomingFile(pdf.name, f)])
        readable = None
        while (job := jobs.get_job(ctx, CLI, job.id)).status not in ("completed", "failed"):
            if readable is None and (job.result or {}).get("course_id"):
                readable = time.monotonic() - started
            time.sleep(0.02)
        searchable = time.monotonic() - started
        ctx.close()
    assert job.status == "completed", job.error
    r = job.result
    return {"pages": r["pages"], "passages": r["passages"], "readable_seconds": round(readable or searchable, 2),
            "searchable_seconds": round(searchable, 2), "seconds_per_step": r["seconds"],
            "runs_on": getattr(ctx.embedder, "runs_on", "onnxruntime/f32"), "peak_rss_mb": round(rss.peak_mb)}


def langchain(pdf: Path) -> dict:
    from compare_env import run_langchain

    r = run_langchain(pdf)
    return {k: r[k] for k in ("total_seconds", "embed_seconds", "chunks", "peak_rss_mb") if k in r}


def median_of(runs: list[dict]) -> dict:
    """The run with the median time to searchable, and the spread of both times."""
    ordered = sorted(runs, key=lambda r: r["searchable_seconds"])
    median = dict(ordered[len(ordered) // 2])
    for key in ("readable_seconds", "searchable_seconds"):
        median[key + "_all"] = [r[key] for r in runs]
    return median


def in_child(pdf: Path, src: Path) -> dict:
    """ingest(pdf) in a fresh process running the code in `src`."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--one", str(pdf)], env=env, check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def checkout(rev: str) -> Path:
    """The source tree of `rev`, as a git worktree under bench/work/."""
    root = Path(__file__).resolve().parents[1]
    tree = root / "bench" / "work" / f"baseline-{rev}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(root), "worktree", "add", "--detach", str(tree), rev], check=True)
    return tree / "src"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pdfs", nargs="*", type=Path, default=list(DOCUMENTS))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="a commit to measure in the same run")
    parser.add_argument("--no-langchain", action="store_true")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(ingest(args.one)))
        return
    here = Path(__file__).resolve().parents[1] / "src"
    base = checkout(args.baseline) if args.baseline else None
    results = {}
    for pdf in args.pdfs:
        runs: dict[str, list[dict]] = {"profai": [], "baseline": [], "langchain": []}
        for _ in range(args.runs):  # interleaved, so each sees the same machine
            runs["profai"].append(in_child(pdf, here))
            if base:
                runs["baseline"].append(in_child(pdf, base))
            if not args.no_langchain:
                runs["langchain"].append(langchain(pdf))
        result = median_of(runs["profai"])
        if base:
            result["baseline"] = {"commit": args.baseline, **median_of(runs["baseline"])}
        if runs["langchain"]:
            lc = sorted(runs["langchain"], key=lambda r: r["total_seconds"])
            result["langchain"] = {**lc[len(lc) // 2], "total_seconds_all": [r["total_seconds"] for r in lc]}
        results[pdf.name] = result
        print(pdf.name, json.dumps(result), flush=True)
    intro, exts = results.get("R-intro.pdf"), results.get("R-exts.pdf")
    save("ingest_pdf", {
        "documents": results, "runs": args.runs,
        "goal": "R-intro readable < 2.5 s and searchable < 12 s; R-exts searchable < 17 s; RSS < 1.5 GB",
        "goal_met": bool(intro and exts) and intro["readable_seconds"] < 2.5 and intro["searchable_seconds"] < 12
        and exts["searchable_seconds"] < 17 and max(r["peak_rss_mb"] for r in results.values()) < 1536,
    })


if __name__ == "__main__":
    main()
