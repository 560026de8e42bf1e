"""Chaos on the production shape (issue 18): the stack of `make stack` (deploy/stack.py: nginx, 2 API
processes, 2 Celery workers, a Chroma server, PostgreSQL, Redis) builds 100 courses and datasets
from PDFs and CSVs uploaded through nginx while, at random moments, worker children (the Celery
pool's job processes) and whole workers (a worker and its pool) are killed with SIGKILL, Redis is
killed and started again (no persistence: its queue is lost) and PostgreSQL drops every
connection to the database.

It counts what must be 0 - jobs lost (uploaded, then no row or no final state), jobs unsettled,
courses, lessons or vectors duplicated, courses or vectors left by failed jobs - how every job
ended, and for each kill the recovery: how long until the killed job was handed back to the queue
and until it ran again, against JOB_LEASE_SECONDS + REAPER_INTERVAL_SECONDS. `--no-faults` runs
the same jobs without faults: the baseline.

The stack runs on ports, a database (dropped and made again), a Redis server and a data folder
(bench/work/chaos/: documents, stack.log) of its own, so it never meets tests running on the same
machine; leases are short (SETTINGS) so that a run takes about 10 minutes on 2 cores.

    .venv/bin/python bench/chaos.py [--seed 18] [--no-faults]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from psycopg.rows import dict_row

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]
from common import R_MANUALS, percentile, previous, save  # noqa: E402
from identities import user_key  # noqa: E402
from stack_run import StackRun  # noqa: E402

from factories import BIOLOGY, make_csv, make_pdf  # noqa: E402
from procs import alive, command_line, descendants, start_process  # noqa: E402
from profai.pipelines.csv_to_vectors import DATASET_ID, dataset_collection  # noqa: E402
from profai.pipelines.pdf_to_course import course_collection  # noqa: E402
from profai.stores.vectors import ChromaVectorStore  # noqa: E402
from support import FINISHED, TEST_ADMIN_KEY, wait_until  # noqa: E402

WORK = ROOT / "bench" / "work" / "chaos"
REDIS_PORT = 6391
WORKERS, CONCURRENCY = 2, 2
STACK = StackRun(WORK, port=8190, api_ports="5191,5192", chroma_port=8191, database="profai_chaos",
                 redis=f"redis://127.0.0.1:{REDIS_PORT}/0", workers=WORKERS, concurrency=CONCURRENCY,
                 restart_workers=True)
LEASE, HEARTBEAT, REAPER = 15, 3, 2
SETTINGS = {
    "JOB_LEASE_SECONDS": LEASE, "JOB_HEARTBEAT_SECONDS": HEARTBEAT, "REAPER_INTERVAL_SECONDS": REAPER,
    # Kills pick busy processes at random and spare a job's last attempt (strike), so near the end,
    # when few jobs run, one job can be hit several times: 5 attempts let it take 4 kills.
    "JOB_MAX_ATTEMPTS": 5,
    "CHUNK_SIZE": 50,  # CSVs of a few hundred rows run in several parts
    # One teacher uploads everything: lift the per-teacher quotas and the API's own request limit
    # (nginx's upload limit stays, and is waited out).
    "MAX_ACTIVE_JOBS": 1000, "UPLOADS_PER_HOUR": 1000, "RATE_LIMIT_PER_SECOND": 0,
}
PDFS, MANUALS, CSVS = 48, ("R-data.pdf", "R-FAQ.pdf", "R-lang.pdf") * 4, 40
CHILD_KILLS, WORKER_KILLS = 50, 10
GAP = (2.0, 7.0)  # seconds between two faults, uniformly drawn
REDIS_DOWN = 2.0  # seconds Redis stays dead
DEADLINE = 25 * 60


@dataclass
class Upload:
    kind: str  # "course" or "dataset"
    path: Path
    name: str  # the course's title or the dataset's namespace
    rows: int = 0
    job_id: str | None = None
    refused: int = 0  # 429s from nginx's upload limit
    errors: list[str] = field(default_factory=list)


@dataclass
class Fault:
    kind: str  # child, worker, redis, postgres
    at: float
    pids: list[int] = field(default_factory=list)
    victims: list[tuple[str, str]] = field(default_factory=list)  # (job id, lease owner) the killed held
    dropped: int = 0  # PostgreSQL connections terminated


# --- what the stack is given ------------------------------------------------------------------


def documents(folder: Path, rng: random.Random) -> list[Upload]:
    """60 PDFs (48 of 1-9 pages of varied chapters, 12 R manuals of 41-69) and 40 CSVs of 200-600
    rows, in random order."""
    folder.mkdir(parents=True)
    uploads = []
    for i in range(PDFS):
        chapters = [(title, rng.sample(paras, len(paras))) for title, paras in rng.sample(BIOLOGY, rng.randint(1, 3))]
        uploads.append(Upload("course", make_pdf(folder / f"notes-{i}.pdf", chapters, repeat=rng.randint(1, 3)),
                              f"Chaos notes {i}"))
    uploads += [Upload("course", R_MANUALS / name, f"Chaos {name} {i}") for i, name in enumerate(MANUALS)]
    for i in range(CSVS):
        rows = rng.randint(200, 600)
        uploads.append(Upload("dataset", make_csv(folder / f"catalogue-{i}.csv", rows, seed=i), f"chaos-{i}", rows))
    rng.shuffle(uploads)
    return uploads


def upload(client: httpx.Client, u: Upload) -> None:
    """POST it through nginx until taken; a 429 (nginx lets 30 uploads a minute through per address,
    after a burst of 20) is waited out, any other failure is noted and tried again a few times."""
    data = u.path.read_bytes()
    while u.job_id is None and len(u.errors) < 10:
        try:
            if u.kind == "course":
                resp = client.post("/api/upload-pdfs", data={"course_title": u.name},
                                   files={"files": (u.path.name, data, "application/pdf")})
            else:
                resp = client.post("/api/v1/datasets", data={
                    "namespace": u.name, "id_column": "id", "text_columns": "title,description",
                    "metadata_columns": "topic,level"}, files={"file": (u.path.name, data, "text/csv")})
        except httpx.HTTPError as exc:
            u.errors.append(f"{type(exc).__name__}: {exc}")
        else:
            if resp.status_code == 202:
                body = resp.json()
                u.job_id = body.get("job_id") or body["task_id"]
                return
            if resp.status_code == 429:
                u.refused += 1
            else:
                u.errors.append(f"{resp.status_code}: {resp.text[:300]}")
        time.sleep(2)


def upload_all(uploads: list[Upload], key: str, t0: float) -> threading.Thread:
    def run() -> None:
        with httpx.Client(base_url=STACK.url, headers={"X-API-Key": key}, timeout=120) as client:
            for n, u in enumerate(uploads, start=1):
                upload(client, u)
                if n % 20 == 0:
                    print(f"chaos: {n} uploads at {time.monotonic() - t0:.0f} s", flush=True)

    thread = threading.Thread(target=run, name="uploads", daemon=True)
    thread.start()
    return thread


# --- the stack and its parts --------------------------------------------------------------------


class Db:
    """An autocommit connection to the stack's database, opened again after a drop."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection | None = None

    def rows(self, sql: str, params: tuple = ()) -> list[dict]:
        for attempt in (1, 2):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(STACK.database_url, autocommit=True, row_factory=dict_row,
                                                connect_timeout=5)
                return self.conn.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                self.conn = None
                if attempt == 2:
                    raise
        return []


def drop_connections() -> int:
    """Terminate every session on the stack's database, as a failover or a restart would."""
    with psycopg.connect(f"{STACK.postgres}/postgres", autocommit=True) as conn:
        return len(conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (STACK.database,)).fetchall())


class RedisServer:
    """The stack's own Redis (never the machine's, which tests use), with nothing persisted."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = start_process(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no"], {}, self.log)
        client = redis.Redis(port=REDIS_PORT, socket_connect_timeout=1)

        def answers() -> bool:
            with contextlib.suppress(redis.RedisError):
                return bool(client.ping())
            return False

        wait_until(answers, timeout=30, interval=0.1, message="redis-server to answer")

    def restart(self) -> None:
        self.stop()
        time.sleep(REDIS_DOWN)
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


def start_stack() -> subprocess.Popen:
    """The stack (its settings and the admin that makes the teacher, bench/identities.py, in its
    environment), once it answers and every worker's pool is up."""
    stack = STACK.start({**os.environ, **{k: str(v) for k, v in SETTINGS.items()}, "API_KEY": TEST_ADMIN_KEY})

    def pools_up() -> bool:
        if stack.poll() is not None:
            raise RuntimeError(f"the stack stopped:\n{STACK.log.read_text(errors='replace')[-5000:]}")
        pool = workers(stack.pid)
        return len(pool) == WORKERS and all(len(children) == CONCURRENCY for children in pool.values())

    wait_until(pools_up, timeout=300, interval=0.5, message="the workers to start")
    return stack


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def workers(stack_pid: int) -> dict[int, list[int]]:
    """Each Celery worker's main process and its pool's children (the processes that run jobs); not
    the shell loops that start them again (deploy/stack.py --restart-workers)."""
    procs = {pid for pid in descendants(stack_pid)
             if command_line(pid).startswith(f"{sys.executable} -m profai.cli worker") and alive(pid)}
    mains = {pid for pid in procs if _ppid(pid) not in procs}
    return {main: [pid for pid in procs if _ppid(pid) == main] for main in mains}


def leases(db: Db) -> tuple[dict[int, list[tuple[str, str]]], set[int]]:
    """Running jobs by the pid that holds their lease (the owner is host:pid:tag), and the pids
    whose job is on its last attempt."""
    held: dict[int, list[tuple[str, str]]] = {}
    last = set()
    for r in db.rows("SELECT id, lease_owner, attempts >= max_attempts AS last FROM jobs "
                     "WHERE lease_owner IS NOT NULL AND status IN ('processing', 'processing_chunks')"):
        pid = int(r["lease_owner"].split(":")[1])
        held.setdefault(pid, []).append((r["id"], r["lease_owner"]))
        if r["last"]:
            last.add(pid)
    return held, last


class Monitor(threading.Thread):
    """Reads the job table twice a second: each job's changes of status and lease owner, timed."""

    def __init__(self, t0: float) -> None:
        super().__init__(name="monitor", daemon=True)
        self.t0, self.db, self.stopped = t0, Db(), threading.Event()
        self.history: dict[str, list[tuple[float, str, str | None]]] = {}
        self.status: dict[str, str] = {}

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            try:
                rows = self.db.rows("SELECT id, status, lease_owner FROM jobs")
            except psycopg.Error:
                continue  # dropped on purpose: read again next time
            now = time.monotonic() - self.t0
            for r in rows:
                seen = self.history.setdefault(r["id"], [])
                if not seen or seen[-1][1:] != (r["status"], r["lease_owner"]):
                    seen.append((now, r["status"], r["lease_owner"]))
                self.status[r["id"]] = r["status"]

    def settled(self, job_ids: list[str]) -> bool:
        return all(self.status.get(j) in FINISHED for j in job_ids)


# --- faults ---------------------------------------------------------------------------------------


def fault_plan(rng: random.Random) -> list[str]:
    """The kills in random order, with the Redis restart and the PostgreSQL drop somewhere in the
    first and the second half."""
    plan = ["child"] * CHILD_KILLS + ["worker"] * WORKER_KILLS
    rng.shuffle(plan)
    plan.insert(rng.randint(len(plan) // 6, len(plan) // 2), "redis")
    plan.insert(rng.randint(len(plan) // 2, len(plan) * 5 // 6), "postgres")
    return plan


def kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def strike(kind: str, stack_pid: int, db: Db, redis_server: RedisServer, rng: random.Random,
           at: float) -> Fault | None:
    """Cause one fault now; None if its kind has no target at the moment: no child busy, or the
    other worker is not up (a whole-worker kill never takes the last one, which would measure
    start-up, not recovery)."""
    if kind == "redis":
        redis_server.restart()
        return Fault(kind, at)
    if kind == "postgres":
        return Fault(kind, at, dropped=drop_connections())
    pool, (held, last) = workers(stack_pid), leases(db)
    # A kill never takes a job's last attempt: a job killed JOB_MAX_ATTEMPTS times fails by design
    # (tests/jobs cover that guard), and would hide among failures that the faults must not cause.
    if kind == "child":
        busy = [pid for children in pool.values() for pid in children if pid in held and pid not in last]
        pids = [rng.choice(busy)] if busy else []
    else:
        up = [main for main, children in pool.items() if len(children) >= CONCURRENCY]
        busy = [main for main in up if any(pid in held for pid in pool[main]) and not last & {*pool[main]}]
        main = rng.choice(busy) if len(up) == WORKERS and busy else None
        pids = [main, *pool[main]] if main else []
    if not pids:
        return None
    kill(pids)
    return Fault(kind, at, pids, [job for pid in pids for job in held.get(pid, [])])


def run_faults(plan: list[str], stack_pid: int, redis_server: RedisServer, rng: random.Random, t0: float,
               finished: threading.Event) -> list[Fault]:
    db, faults = Db(), []
    for kind in plan:
        if finished.wait(rng.uniform(*GAP)):
            break
        while not (fault := strike(kind, stack_pid, db, redis_server, rng, time.monotonic() - t0)):
            if finished.wait(0.5):
                return faults
        faults.append(fault)
        print(f"chaos: {fault.at:6.1f} s {kind} {fault.pids or ''} {[v[0][:8] for v in fault.victims]}", flush=True)
    return faults


# --- what happened --------------------------------------------------------------------------------


def recoveries(faults: list[Fault], history: dict[str, list[tuple[float, str, str | None]]]) -> list[dict]:
    """For each job a kill hit: seconds until its dead lease was let go (requeued, or failed) and
    until it ran again (another owner, or already deferred to its parts or settled: a short step can
    start and end between two reads of the monitor)."""
    out = []
    for f in faults:
        for job_id, owner in f.victims:
            after = [e for e in history.get(job_id, []) if e[0] >= f.at]
            let_go = next((t for t, _, o in after if o != owner), None)
            again = next((t for t, status, o in after if o != owner and status != "pending"), None)
            out.append({"kind": f.kind, "job": job_id, "at": round(f.at, 1),
                        "requeued_s": None if let_go is None else round(let_go - f.at, 1),
                        "reclaimed_s": None if again is None else round(again - f.at, 1)})
    return out


def spread(hits: list[dict]) -> dict:
    requeued = [r["requeued_s"] for r in hits if r["requeued_s"] is not None]
    reclaimed = [r["reclaimed_s"] for r in hits if r["reclaimed_s"] is not None]
    return {"jobs": len(hits), "requeued_p50": percentile(requeued, 50) if requeued else None,
            "requeued_max": max(requeued, default=None),
            "reclaimed_p50": percentile(reclaimed, 50) if reclaimed else None,
            "reclaimed_p95": percentile(reclaimed, 95) if reclaimed else None,
            "reclaimed_max": max(reclaimed, default=None), "never_reclaimed": len(hits) - len(reclaimed)}


def after_outage(at: float, history: dict[str, list[tuple[float, str, str | None]]]) -> dict:
    """From `at` (Redis back, PostgreSQL dropped): seconds until a job started, the jobs then
    pending (for Redis: their queue messages lost) and how many of them never started."""
    def started(seen: list[tuple[float, str, str | None]]) -> float | None:
        return next((t for t, status, _ in seen if t >= at and status != "pending"), None)

    def status_then(seen: list[tuple[float, str, str | None]]) -> str | None:
        return next((status for t, status, _ in reversed(seen) if t < at), None)

    pending = [seen for seen in history.values() if status_then(seen) == "pending"]
    starts = [t for seen in history.values() if (t := started(seen)) is not None]
    return {"first_start_s": round(min(starts) - at, 1) if starts else None, "pending_then": len(pending),
            "never_started": sum(1 for seen in pending if started(seen) is None)}


def verify(uploads: list[Upload], db: Db, key: str) -> dict:
    """Every job settled and none lost; one course per completed course job, its lessons once, its
    vectors once; each dataset's vectors exactly its embedded rows; nothing left by failed jobs."""
    ids = [u.job_id for u in uploads if u.job_id]
    jobs = {r["id"]: r for r in db.rows(
        "SELECT id, kind, status, error_code, error, result, payload, attempts FROM jobs WHERE parent_id IS NULL")}
    parts = db.rows("SELECT status, attempts FROM jobs WHERE parent_id IS NOT NULL")
    by_job: dict[str, list[dict]] = {}
    for c in db.rows("SELECT job_id, (SELECT count(*) FROM lessons l WHERE l.course_id = c.id) AS lessons, "
                     "(SELECT count(DISTINCT (l.module_id, l.position)) FROM lessons l WHERE l.course_id = c.id) "
                     "AS lesson_places, (SELECT count(*) FROM modules m WHERE m.course_id = c.id) AS modules, "
                     "(SELECT count(DISTINCT m.position) FROM modules m WHERE m.course_id = c.id) AS module_places "
                     "FROM courses c"):
        by_job.setdefault(c["job_id"], []).append(c)
    store = ChromaVectorStore.server(f"http://127.0.0.1:{STACK.chroma_port}")
    bad: dict[str, list[str]] = {k: [] for k in ("duplicated_courses", "missing_courses", "lessons_wrong",
                                                 "vectors_wrong", "duplicate_vector_ids", "left_by_failed_jobs",
                                                 "api_disagrees")}
    with httpx.Client(base_url=STACK.url, headers={"X-API-Key": key}, timeout=30) as api:
        for u in uploads:
            job = jobs.get(u.job_id or "")
            if job is None:
                continue
            check = check_course if u.kind == "course" else check_dataset
            for problem in check(u, job, by_job.get(job["id"], []), store):
                bad[problem].append(job["id"])
            path = f"/api/jobs/{job['id']}" if u.kind == "course" else f"/api/v1/tasks/{job['id']}"
            if api.get(path).json().get("status") != job["status"]:
                bad["api_disagrees"].append(job["id"])
    outcomes = Counter(f"{jobs[j]['kind']} {jobs[j]['status']}" + (f" ({jobs[j]['error_code']})"
                       if jobs[j]["error_code"] else "") for j in ids if j in jobs)
    return {
        "uploaded": len(ids), "not_accepted": sum(1 for u in uploads if not u.job_id),
        "lost": [j for j in ids if j not in jobs],
        "unsettled": [j for j in ids if j in jobs and jobs[j]["status"] not in FINISHED],
        "unsettled_parts": sum(1 for p in parts if p["status"] not in FINISHED),
        "not_uploaded_by_us": [j for j in jobs if j not in set(ids)],
        "outcomes": dict(sorted(outcomes.items())),
        "errors": {j: jobs[j]["error"] for j in ids if j in jobs and jobs[j]["error"]},
        "csv_parts": len(parts),
        "run_more_than_once": sum(1 for j in ids if j in jobs and jobs[j]["attempts"] > 1)
        + sum(1 for p in parts if p["attempts"] > 1),
        "most_attempts": max([jobs[j]["attempts"] for j in ids if j in jobs] + [p["attempts"] for p in parts]),
        **bad,
    }


def messages_left() -> dict:
    """Messages in Redis once every job has settled: queued, and taken but never acknowledged (a
    killed worker's, handed back after CELERY_VISIBILITY_TIMEOUT to find nothing to run)."""
    client = redis.Redis(port=REDIS_PORT)
    return {"messages_queued_at_end": client.llen("profai"), "messages_unacked_at_end": client.hlen("profai.unacked")}


def check_course(u: Upload, job: dict, courses: list[dict], store: ChromaVectorStore) -> list[str]:
    collection = course_collection(job["id"])
    if job["status"] != "completed":
        return ["left_by_failed_jobs"] if courses or store.count(collection) > 0 else []
    result, problems = job["result"], []
    if not courses:
        return ["missing_courses"]
    if len(courses) != 1:
        problems.append("duplicated_courses")
    c = courses[0]
    if (c["lessons"], c["lesson_places"], c["modules"], c["module_places"]) != (
            result["lessons"], result["lessons"], result["modules"], result["modules"]):
        problems.append("lessons_wrong")
    hits = store.all(collection)
    if len(hits) != result["passages"]:
        problems.append("vectors_wrong")
    if len({h.id for h in hits}) != len(hits):
        problems.append("duplicate_vector_ids")
    return problems


def check_dataset(u: Upload, job: dict, _courses: list[dict], store: ChromaVectorStore) -> list[str]:
    hits = store.all(dataset_collection(job["payload"]["namespace"]))  # the teacher's (u1.chaos-3)
    embedded = (job["result"] or {}).get("embedded_rows", 0)
    problems = []
    if len(hits) != embedded or (job["status"] == "completed" and embedded != u.rows):
        problems.append("vectors_wrong" if job["status"] != "failed" else "left_by_failed_jobs")
    if len({h.id for h in hits}) != len(hits) or any(h.metadata.get(DATASET_ID) != job["id"] for h in hits):
        problems.append("duplicate_vector_ids")
    return problems


def summary(found: dict, faults: list[Fault], recovered: list[dict], history: dict, wall: float,
            uploads: list[Upload]) -> dict:
    csv_parts = found.pop("csv_parts")
    kinds = Counter(f.kind for f in faults)
    figures = {
        "settings": {**SETTINGS, "WORKERS": WORKERS, "CONCURRENCY": CONCURRENCY, "fault_gap_s": list(GAP),
                     "redis_down_s": REDIS_DOWN},
        "jobs": {"pdf": sum(u.kind == "course" for u in uploads), "csv": sum(u.kind == "dataset" for u in uploads),
                 "csv_parts": csv_parts,
                 "upload_429s_waited_out": sum(u.refused for u in uploads),
                 "upload_errors": [e for u in uploads for e in u.errors]},
        "faults": {"child_kills": kinds["child"], "worker_kills": kinds["worker"], "redis_restarts": kinds["redis"],
                   "postgres_drops": kinds["postgres"],
                   "connections_dropped": sum(f.dropped for f in faults),
                   "jobs_hit_by_kills": len(recovered)},
        "results": {k: (len(v) if isinstance(v, list) else v) for k, v in found.items() if k != "errors"},
        "failures": found["errors"],
        "recovery_s": {
            "bound": LEASE + REAPER, **spread(recovered),
            "child_kills": spread([r for r in recovered if r["kind"] == "child"]),
            "worker_kills": spread([r for r in recovered if r["kind"] == "worker"]),
            "slowest": sorted(recovered, key=lambda r: -(r["reclaimed_s"] or 1e9))[:3],
            **{f"after_{f.kind}": after_outage(f.at + (REDIS_DOWN if f.kind == "redis" else 0), history)
               for f in faults if f.kind in ("redis", "postgres")},
        },
        "wall_s": round(wall, 1),
        "jobs_per_min": round(found["uploaded"] / (wall / 60), 1),
    }
    if found["lost"] or found["unsettled"] or found["not_uploaded_by_us"]:
        figures["job_ids"] = {k: found[k] for k in ("lost", "unsettled", "not_uploaded_by_us")}
    return figures


def report(figures: dict) -> None:
    """The figures in a few lines (save() prints them all)."""
    c, base = figures["chaos"], figures.get("baseline")
    f, r, rec = c["faults"], c["results"], c["recovery_s"]
    problems = {k: v for k, v in r.items() if k not in ("uploaded", "outcomes", "run_more_than_once", "most_attempts")
                and not k.startswith("messages") and v}
    print(f"\nchaos: {r['uploaded']} jobs, {c['jobs']['csv_parts']} CSV parts; " + ", ".join(
        f"{n} {k.replace('_', ' ')}" for k, n in f.items()))
    print(f"chaos: {', '.join(f'{k} {n}' for k, n in r['outcomes'].items())}; lost, unsettled, duplicated or left "
          f"behind: {problems or 'none'}")
    print(f"chaos: recovery: requeued p50 {rec['requeued_p50']} s, max {rec['requeued_max']} s; running again p50 "
          f"{rec['reclaimed_p50']} s, p95 {rec['reclaimed_p95']} s, max {rec['reclaimed_max']} s (bound: lease "
          f"{LEASE} + reaper {REAPER} = {rec['bound']} s)")
    print(f"chaos: {c['wall_s']} s, {c['jobs_per_min']} jobs/min" + (
        f" (without faults: {base['wall_s']} s, {base['jobs_per_min']} jobs/min)" if base else ""))
    print(f"chaos: goals: {figures['goals']}")


def goals(f: dict) -> dict:
    r, rec = f["results"], f["recovery_s"]
    return {
        "zero_lost": r["lost"] == 0 and r["not_accepted"] == 0,
        "every_job_settled": r["unsettled"] == 0 and r["unsettled_parts"] == 0,
        "zero_duplicated": sum(r[k] for k in ("duplicated_courses", "lessons_wrong", "vectors_wrong",
                                              "duplicate_vector_ids", "not_uploaded_by_us")) == 0,
        "nothing_left_by_failed_jobs": r["left_by_failed_jobs"] == 0,
        "faults_as_asked": f["faults"]["child_kills"] >= CHILD_KILLS and f["faults"]["worker_kills"] >= WORKER_KILLS
        and f["faults"]["redis_restarts"] >= 1 and f["faults"]["postgres_drops"] >= 1,
        "longest_recovery_under_lease_plus_reaper": rec["never_reclaimed"] == 0
        and (rec["reclaimed_max"] or 0) < rec["bound"],
    }


# --- the run --------------------------------------------------------------------------------------


def run(faults_on: bool, seed: int) -> dict:
    rng = random.Random(seed)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    uploads = documents(WORK / "documents", rng)
    redis_server = RedisServer(WORK / "redis.log")
    redis_server.start()
    try:
        stack = start_stack()
        key = user_key(STACK.url, "teacher")
        t0 = time.monotonic()
        monitor = Monitor(t0)
        monitor.start()
        uploading = upload_all(uploads, key, t0)
        finished = threading.Event()

        def watch() -> None:  # the run ends when every upload is in and every job has settled
            while not (not uploading.is_alive() and monitor.settled([u.job_id for u in uploads if u.job_id])):
                if time.monotonic() - t0 > DEADLINE:
                    print("chaos: deadline reached with jobs unsettled", flush=True)
                    break
                time.sleep(1)
            finished.set()

        threading.Thread(target=watch, daemon=True).start()
        faults = run_faults(fault_plan(rng), stack.pid, redis_server, rng, t0, finished) if faults_on else []
        finished.wait()
        wall = max((t for u in uploads if u.job_id for t, status, _ in monitor.history.get(u.job_id, [])
                    if status in FINISHED), default=time.monotonic() - t0)
        monitor.stopped.set()
        found = verify(uploads, Db(), key) | messages_left()
        return summary(found, faults, recoveries(faults, monitor.history), monitor.history, wall, uploads)
    finally:
        STACK.stop()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=18, help="the documents, the faults' order and moments")
    parser.add_argument("--no-faults", action="store_true", help="the same jobs without faults (the baseline)")
    args = parser.parse_args()
    figures = previous("chaos", derived=("goals",))
    if args.no_faults:
        found = run(False, args.seed)
        figures["baseline"] = {k: found[k] for k in ("jobs", "results", "wall_s", "jobs_per_min")}
    else:
        figures["chaos"] = run(True, args.seed)
    if "chaos" in figures:
        figures["goals"] = goals(figures["chaos"])
    save("chaos", figures)
    if "chaos" in figures:
        report(figures)


if __name__ == "__main__":
    main()
