"""CSV rows to vectors, end to end in embedded mode, with peak RSS of the whole process tree.

  model     the local model alone on the same rows (the ceiling), 1 and 2 threads
  local     the pipeline with 1 and 2 compute workers; goal: at least 85% of the model's speed
  hosted    the OpenAI-format path against a local server limited to 5 requests/s, BATCH_SIZE 100;
            the bound for 100,000 rows is 200 s, the goal under 220 s, the limit never exceeded
  kill      the server killed twice mid-task and restarted: rows lost and duplicated must be 0

Usage: python bench/ingest_csv.py [--rows N] [--kill-rows N] [--phases model,local,hosted,kill] [--label KEY]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import PeakRss, previous, save  # noqa: E402

from factories import make_csv  # noqa: E402
from profai.domain import CLI  # noqa: E402
from profai.pipelines.csv_to_vectors import dataset_collection  # noqa: E402
from profai.services import datasets  # noqa: E402
from profai.services.uploads import IncomingFile  # noqa: E402
from profai.settings import Settings  # noqa: E402
from profai.wiring import build_container  # noqa: E402

FINAL = ("completed", "partially_completed", "failed")


def texts_of(path: Path, limit: int) -> list[str]:
    import csv

    with path.open(newline="") as f:
        rows = csv.DictReader(f)
        return [f"{r['title']}\n{r['description']}" for _, r in zip(range(limit), rows)]


def model_alone(csv_path: Path, sample: int) -> dict:
    from profai.providers.embedder import OnnxMiniLM, batched

    texts = texts_of(csv_path, sample)
    out = {}
    for threads in (1, 2):
        model = OnnxMiniLM(threads=threads)
        model.embed(texts[:100])  # load the model outside the timing
        started = time.monotonic()
        for batch in batched(texts, 100):
            model.embed(batch)
        out[f"threads_{threads}_rows_per_s"] = round(len(texts) / (time.monotonic() - started), 1)
    return {"sample_rows": len(texts), **out}


def run_task(settings: Settings, csv_path: Path, namespace: str) -> dict:
    """Upload, wait, report rows/s and the task's counts; the container is built and closed here."""
    with PeakRss() as rss:
        ctx = build_container(settings, runner="local")
        ctx.runner.start()
        started = time.monotonic()
        with csv_path.open("rb") as f:
            job = datasets.start_dataset(ctx, CLI, IncomingFile(csv_path.name, f), namespace=namespace, id_column="id",
                                         text_columns=("title", "description"), metadata_columns=("topic",))
        while (report := datasets.task_report(ctx, CLI, job.id)).job.status not in FINAL:
            time.sleep(0.5)
        seconds = time.monotonic() - started
        stored = ctx.vectors.count(dataset_collection(namespace))
        ctx.close()
    rows = report.dataset.total_rows
    return {"status": report.job.status, "rows": rows, "embedded": report.tally.embedded_rows,
            "failed_rows": report.failed_rows, "vectors_stored": stored, "seconds": round(seconds, 1),
            "rows_per_s": round(rows / seconds, 1), "peak_rss_mb": round(rss.peak_mb)}


def local(csv_path: Path, workers: int, tmp: Path) -> dict:
    settings = Settings(_env_file=None, PROFAI_DATA_DIR=tmp / f"local-{workers}", COMPUTE_PROCESSES=workers,
                        MAX_WORKERS=workers + 1, EMBEDDING_THREADS=1)
    return {"workers": workers, **run_task(settings, csv_path, f"bench-local-{workers}")}


def hosted(csv_path: Path, tmp: Path) -> dict:
    """The fake OpenAI server runs as its own process, so its log times arrivals on its own clock
    and GIL, not the client's."""
    from fakes.openai_server import max_in_window, read_log
    from procs import free_port, kill_group, start_process, wait_http

    port, log = free_port(), tmp / "openai-requests.log"
    server = start_process([sys.executable, str(Path(__file__).parents[1] / "tests" / "fakes" / "openai_server.py"),
                            "--port", str(port), "--rate-limit", "5", "--log", str(log)], {}, tmp / "openai.log")
    try:
        wait_http(f"http://127.0.0.1:{port}/docs", server, tmp / "openai.log")
        settings = Settings(_env_file=None, PROFAI_DATA_DIR=tmp / "hosted", EMBEDDER="openai",
                            EMBEDDING_BASE_URL=f"http://127.0.0.1:{port}/v1", OPENAI_API_KEY="bench",
                            OPENAI_RATE_LIMIT=5, BATCH_SIZE=100, MAX_WORKERS=3, COMPUTE_PROCESSES=1)
        figures = run_task(settings, csv_path, "bench-hosted")
    finally:
        kill_group(server, signal.SIGTERM)
    calls = [(t, status) for t, path, status in read_log(log) if path == "/v1/embeddings"]
    figures.update(requests=len(calls), refused_429=sum(1 for _, status in calls if status == 429),
                   max_requests_in_any_second=max_in_window([t for t, _ in calls]),
                   bound_s=round(figures["rows"] / 100 / 5, 1))
    return figures


def kill_and_resume(csv_path: Path, tmp: Path, kills: int = 2) -> dict:
    """A real `profai serve` killed with SIGKILL mid-task, restarted on the same data directory."""

    from procs import kill_group, start_server
    from support import admin_http

    env = {"PROFAI_DATA_DIR": str(tmp / "kill"), "CHUNK_SIZE": "1000"}
    proc, url = start_server(env, tmp / "kill-0.log")
    with csv_path.open("rb") as f:
        task_id = admin_http.post(f"{url}/api/v1/datasets", files={"file": (csv_path.name, f, "text/csv")}, timeout=60,
                             data={"namespace": "bench-kill", "id_column": "id",
                                   "text_columns": "title,description"}).json()["task_id"]
    started, total = time.monotonic(), len(texts_of(csv_path, 10**9))
    for n in range(1, kills + 1):
        while admin_http.get(f"{url}/api/v1/tasks/{task_id}", timeout=10).json()["processed_rows"] < total * n / (kills + 1):
            time.sleep(0.5)
        kill_group(proc, signal.SIGKILL)
        proc, url = start_server(env, tmp / f"kill-{n}.log")
    while (body := admin_http.get(f"{url}/api/v1/tasks/{task_id}", timeout=10).json())["status"] not in FINAL:
        time.sleep(0.5)
    seconds = time.monotonic() - started
    kill_group(proc, signal.SIGTERM)
    from profai.stores.vectors import ChromaVectorStore

    store = ChromaVectorStore.embedded(tmp / "kill" / "chroma")
    collection = dataset_collection("bench-kill")
    stored = store.count(collection)
    ids = {h.metadata.get("_row_id") for h in store.all(collection)}
    rows = body["total_rows"]
    return {"rows": rows, "kills": kills, "status": body["status"], "seconds": round(seconds, 1),
            "vectors_stored": stored, "rows_lost": rows - len(ids), "rows_duplicated": stored - len(ids)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--kill-rows", type=int, default=20_000)
    parser.add_argument("--phases", default="model,local,hosted,kill")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--label", default="local",
                        help="key of the local figures: e.g. run an older commit (PYTHONPATH=its src) as local_baseline")
    args = parser.parse_args()
    phases = args.phases.split(",")
    figures = previous("ingest_csv")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        csv_path = make_csv(tmp / "rows.csv", args.rows)
        figures["rows"] = args.rows
        if "model" in phases:
            figures["model_alone"] = model_alone(csv_path, min(args.rows, 5000))
        if "local" in phases:
            figures.setdefault(args.label, {}).update(
                {f"workers_{w}": local(csv_path, int(w), tmp) for w in args.workers.split(",")})
        if "hosted" in phases:
            figures["hosted"] = hosted(csv_path, tmp)
        if "kill" in phases:
            figures["kill_resume"] = kill_and_resume(make_csv(tmp / "kill.csv", args.kill_rows), tmp)
    ceiling = figures.get("model_alone", {}).get("threads_2_rows_per_s")
    best = figures.get("local", {}).get("workers_2", {}).get("rows_per_s")
    if ceiling and best:
        figures["pipeline_share_of_model_speed"] = round(best / ceiling, 3)
    save("ingest_csv", figures)


if __name__ == "__main__":
    main()
