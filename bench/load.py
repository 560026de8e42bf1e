"""Load through nginx on the stack of `make stack` (issue 18): a class of students and a few
teachers, driven by locust (headless, as a library) for DURATION seconds per phase, twice:

  steady         2 API processes behind nginx, 2 Celery workers, PostgreSQL, Redis, a Chroma server
  worker_killed  the same, with a Celery worker killed half-way through while it runs a job (kill -9
                 of its whole process group, pool child included; the first moment from half-way on
                 when a job's lease names one of its processes), and not restarted

Each phase starts its users at --spawn-rate a second; each signs in first. Sign-in (argon2, slow
on purpose) is reported apart, and the DURATION-second window is measured once all have signed in.
Before the first phase a warm-up asks a few questions and makes a few quizzes, so that each API
process has loaded the embedding model and the course's quiz material, as a server that has run
for a while has (the first cold quizzes are reported in the setup figures).

Per route: requests, requests/s, p50/p95/p99, errors and 429s; per phase the error rate (goal: 0 %)
and what became of every upload (goal: every job completed, none lost, even the one whose worker
was killed: the surviving worker's reaper requeues it as soon as it sees that the lease's owner,
a process on this host, is gone; after the lease otherwise).

Who does what (weights are locust task weights; think time is the wait between two tasks):
- students (default 20; think 1-3 s) sign in with their password (session cookie, as the browser
  does) and then read the course (GET /api/courses/{id}: modules, lessons and their blocks; the
  course view and lesson page of the web app are drawn from it) 6, list their courses 2, open the
  web app (/ and its CSS and JavaScript) 1, ask the course a question over the chat WebSocket 4
  (one socket per student kept open, as the web app does: time to the first token and to the full
  answer, questions from bench/retrieval_questions.json), take a 5-question quiz (generate it, then
  submit answers) 1.
- teachers (default 3; 10-20 s between uploads) upload, in turn, a few pages of notes
  (tests/factories.make_pdf, a new text each time; ~1 s of work) and R-data.pdf (a real 41-page
  manual, ~10 s of work, so that a worker is often busy when one is killed), poll the job every
  0.5 s as the web app does until it settles, then open the new course. Job polling is theirs: a
  student has no jobs (GET /api/jobs/{id} answers only its owner).

What counts: an error is a 5xx, a connection failure or timeout, any status other than the one the
route answers when it works, or a wrong answer (a course without its lessons, a quiz without
questions, a chat "error" frame or an answer without text, a socket closed mid-answer). A 429
(nginx's per-address limit, the API's per-user limit or a teacher's job quota) is the product
asking a client to slow down on purpose: counted apart, not as an error. Percentiles are over
every request of a route, as locust's. nginx runs with its deployed config (100 r/s per address,
burst 400; 30 uploads/min, burst 20): the whole class comes from 127.0.0.1, as a class behind one
school NAT does, and stays below that.

The stack runs with `--workers 0` and this script starts the 2 Celery workers itself with the
environment stack.py gives them, so that killing one does not make honcho stop the whole stack.
Its own ports, database (dropped and created again at each run), Celery queue and data folder
(bench/work/load/, kept for inspection: stack.log, worker*.log, nginx's access log) keep it apart
from anything else on the machine. The admin that seeds users is the tests' API_KEY.

Usage: .venv/bin/python bench/load.py [--duration 120] [--students 20] [--teachers 3]
                                      [--phases steady,worker_killed]
(`make bench-load` installs locust from bench/requirements-load.txt first.) PostgreSQL and Redis
must run on 127.0.0.1 (see README).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import gevent
import gevent.queue
import locust  # before requests: it monkey-patches the standard library for gevent on import
import psycopg
import requests
import websocket
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from common import R_MANUALS, percentile, save  # noqa: E402
from stack_run import StackRun  # noqa: E402

from factories import BIOLOGY, make_pdf  # noqa: E402
from procs import descendants, kill_group  # noqa: E402
from support import ADMIN_HEADERS, FINISHED, TEST_ADMIN_KEY  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work" / "load"
QUESTIONS = [q["question"] for q in json.loads(Path(__file__).with_name("retrieval_questions.json").read_text())
             ["questions"]]
COURSE_PDF = R_MANUALS / "R-intro.pdf"
COURSE_TITLE = "An Introduction to R"
MANUAL_PDF = R_MANUALS / "R-data.pdf"  # every other teacher upload: a real 41-page manual (~10 s of work)
PASSWORD = "load benchmark passphrase"
JOB_POLL_SECONDS = 0.5  # as the web app (web/js/courses.js)
TIMEOUT = 60  # seconds a client waits for any answer


class RateLimited(Exception):
    """A 429: counted apart from errors."""


class Run:
    """What the users share: the stack's URL, the seeded course and accounts, and what happened."""

    base = ""
    course_id = 0
    students: list[str] = []
    teachers: list[str] = []
    phase = ""
    jobs: list[dict] = []  # every upload: phase, job_id, uploaded_at, final body
    sockets: set[websocket.WebSocket] = set()
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    errors: Counter[tuple[str, str]] = Counter()
    limited: Counter[tuple[str, str]] = Counter()
    error_kinds: Counter[str] = Counter()
    _taken: dict[str, itertools.count] = defaultdict(itertools.count)
    _copies = itertools.count()

    @classmethod
    def account(cls, pool: str) -> str:
        """The next account of the pool ("students", "teachers"): each phase's users take each once."""
        emails = getattr(cls, pool)
        return emails[next(cls._taken[pool]) % len(emails)]

    @classmethod
    def reset(cls) -> None:
        cls.times, cls.errors, cls.limited, cls.error_kinds = defaultdict(list), Counter(), Counter(), Counter()


def on_request(request_type: str, name: str, response_time: float, exception: BaseException | None, **_) -> None:
    """Every request's time and outcome, raw (locust's own stats round the times into buckets)."""
    key = (request_type, name)
    Run.times[key].append(response_time)
    if isinstance(exception, RateLimited):
        Run.limited[key] += 1
    elif exception is not None:
        Run.errors[key] += 1
        Run.error_kinds[f"{request_type} {name}: {type(exception).__name__}: {str(exception)[:160]}"] += 1


def judge(r, expect: int, check=None) -> dict | None:
    """Mark a locust response (catch_response) a success, an error or a 429; the JSON body if it worked."""
    if r.status_code == expect:
        try:
            body = r.json() if "json" in r.headers.get("content-type", "") else None
            problem = check(body if body is not None else r.text) if check else None
        except (ValueError, KeyError, TypeError) as exc:
            body, problem = None, f"{type(exc).__name__} {exc}"
        if problem:
            r.failure(f"wrong answer: {problem}")
            return None
        r.success()
        return body
    if r.status_code == 429:
        r.failure(RateLimited(f"429 {r.text[:100]}"))
    elif r.status_code == 0:
        r.failure(f"no answer: {type(r.error).__name__}: {r.error}")
    else:
        code = re.search(r'"code":\s*"([^"]+)"', r.text)
        r.failure(f"HTTP {r.status_code} {code.group(1) if code else r.text[:80]}")
    return None


def course_problem(body: dict) -> str | None:
    modules = body.get("modules") or []
    lessons = [lesson for m in modules for lesson in m["lessons"]]
    if not lessons or not all(lesson["blocks"] for lesson in lessons):
        return f"course {body.get('id')} without lessons or blocks"
    return None


class Browser(locust.HttpUser):
    """A person in a browser: signed in with a password, the session cookie on every request."""

    abstract = True
    pool = "students"

    def on_start(self) -> None:
        self.client.headers["Origin"] = self.host  # state-changing requests on a session must say so
        self.email = Run.account(self.pool)
        with self.client.post("/api/auth/login", json={"email": self.email, "password": PASSWORD},
                              name="/api/auth/login", catch_response=True, timeout=TIMEOUT) as r:
            judge(r, 200)

    def call(self, method: str, path: str, name: str, expect: int = 200, check=None, **kwargs) -> dict | None:
        with self.client.request(method, path, name=name, catch_response=True, timeout=TIMEOUT, **kwargs) as r:
            return judge(r, expect, check)


class Student(Browser):
    wait_time = locust.between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.ws: websocket.WebSocket | None = None
        self.frames: gevent.queue.Queue = gevent.queue.Queue()
        self.reader: gevent.Greenlet | None = None
        self.chat_session: str | None = None

    def on_stop(self) -> None:
        self._drop_socket()

    @locust.task(6)
    def read_course(self) -> None:
        self.call("GET", f"/api/courses/{Run.course_id}", "/api/courses/[id]", check=course_problem)

    @locust.task(2)
    def list_courses(self) -> None:
        self.call("GET", "/api/courses", "/api/courses",
                  check=lambda b: None if any(c["id"] == Run.course_id for c in b["courses"]) else "course missing")

    @locust.task(1)
    def open_app(self) -> None:
        self.call("GET", "/", "/", check=lambda text: None if "/static/app.js" in text else "not the app's page")
        for name in ("app.css", "app.js"):
            self.call("GET", f"/static/{name}", "/static/[file]")

    @locust.task(1)
    def take_quiz(self) -> None:
        quiz = self.call("POST", f"/api/courses/{Run.course_id}/quizzes", "/api/courses/[id]/quizzes", 201,
                         check=lambda b: None if b["questions"] else "a quiz without questions", json={"questions": 5})
        if quiz:
            answers = {q["id"]: random.randrange(max(1, len(q.get("options") or [0]))) for q in quiz["questions"]}
            self.call("POST", f"/api/quizzes/{quiz['quiz_id']}/attempts", "/api/quizzes/[id]/attempts", 201,
                      check=lambda b: None if 0 <= b["score"] <= b["total"] else "a score out of range",
                      json={"answers": answers})

    @locust.task(4)
    def ask(self) -> None:
        """One question over this student's chat socket (opened on first use, as the web app does)."""
        if self.ws is None and not self._connect():
            return
        started = time.perf_counter()
        first: float | None = None
        try:
            self.ws.send(json.dumps({"course_id": Run.course_id, "question": random.choice(QUESTIONS),
                                     "session_id": self.chat_session}))
            while True:
                item = self.frames.get(timeout=TIMEOUT)
                if isinstance(item, Exception):
                    raise item
                frame = json.loads(item)
                if frame["type"] == "error":
                    kind = RateLimited if frame["code"] == "rate_limited" else RuntimeError
                    raise kind(f"error frame {frame['code']}: {frame['message'][:100]}")
                if frame["type"] == "session":
                    self.chat_session = frame["session_id"]
                elif frame["type"] == "token" and first is None:
                    first = time.perf_counter() - started
                    self._fire("/ws/chat first token", first)
                elif frame["type"] == "end":
                    if first is None or not frame["answer"].strip():
                        raise RuntimeError("wrong answer: an answer without text")
                    self._fire("/ws/chat full answer", time.perf_counter() - started, len(frame["answer"]))
                    return
        except Exception as exc:  # a closed socket, a timeout, an error frame: the answer failed
            if first is None:
                self._fire("/ws/chat first token", time.perf_counter() - started, exception=exc)
            self._fire("/ws/chat full answer", time.perf_counter() - started, exception=exc)
            if not isinstance(exc, RateLimited):
                self._drop_socket()

    def _connect(self) -> bool:
        started = time.perf_counter()
        url = self.host.replace("http", "ws", 1) + "/ws/chat"
        try:
            self.ws = websocket.create_connection(url, timeout=TIMEOUT, origin=self.host,
                                                  cookie=f"profai_session={self.client.cookies.get('profai_session')}")
        except websocket.WebSocketBadStatusException as exc:
            kind = RateLimited if exc.status_code == 429 else RuntimeError
            self._fire("/ws/chat connect", time.perf_counter() - started, exception=kind(f"HTTP {exc.status_code}"))
            return False
        except Exception as exc:
            self._fire("/ws/chat connect", time.perf_counter() - started, exception=exc)
            return False
        Run.sockets.add(self.ws)
        self._fire("/ws/chat connect", time.perf_counter() - started)
        self.ws.settimeout(None)
        self.frames = gevent.queue.Queue()
        self.reader = gevent.spawn(self._read, self.ws, self.frames)
        return True

    @staticmethod
    def _read(ws: websocket.WebSocket, frames: gevent.queue.Queue) -> None:
        """Read the socket all the time, as a browser does: recv() answers the server's pings (uvicorn
        closes a socket whose pong is 20 s late), and frames wait in `frames` for ask()."""
        try:
            while True:
                frames.put(ws.recv())
        except Exception as exc:
            frames.put(exc)

    def _drop_socket(self) -> None:
        if self.ws is not None:
            Run.sockets.discard(self.ws)
            self.ws.close()
            self.ws, self.chat_session = None, None
        if self.reader is not None:
            self.reader.kill(block=False)
            self.reader = None

    def _fire(self, name: str, seconds: float, length: int = 0, exception: BaseException | None = None) -> None:
        self.environment.events.request.fire(request_type="WS", name=name, response_time=seconds * 1000,
                                             response_length=length, exception=exception, context={})


class Teacher(Browser):
    wait_time = locust.between(10, 20)
    pool = "teachers"

    @locust.task
    def upload(self) -> None:
        """Upload a course, follow its job to the end as the web app does, open the course."""
        n = next(Run._copies)
        if n % 2:
            title, filename, pdf = f"R data {n}", MANUAL_PDF.name, MANUAL_PDF.read_bytes()
        else:
            path = make_pdf(WORK / f"upload-{uuid.uuid4().hex[:8]}.pdf",
                            [(t, [f"{paras[0]} This is copy {n} of the notes.", *paras[1:]]) for t, paras in BIOLOGY])
            title, filename, pdf = f"Biology {n}", "biology.pdf", path.read_bytes()
            path.unlink()
        accepted = self.call("POST", "/api/upload-pdfs", "/api/upload-pdfs", 202,
                             data={"course_title": title}, files={"files": (filename, pdf, "application/pdf")})
        if not accepted:
            return
        job = {"phase": Run.phase, "job_id": accepted["job_id"], "uploaded_at": time.monotonic(), "body": None}
        Run.jobs.append(job)
        while True:
            gevent.sleep(JOB_POLL_SECONDS)
            body = self.call("GET", f"/api/jobs/{job['job_id']}", "/api/jobs/[id]")
            if body and body["status"] in FINISHED:
                job["body"], job["settled_at"] = body, time.monotonic()
                break
        if body["status"] == "completed":
            self.call("GET", f"/api/courses/{body['result']['course_id']}", "/api/courses/[id]", check=course_problem)


# ---------------------------------------------------------------------------------- the stack


def start_worker(stack: StackRun, env: dict[str, str], n: int) -> subprocess.Popen:
    """A Celery worker as deploy/stack.py runs them, but ours: killing it does not stop the stack."""
    return subprocess.Popen([sys.executable, "-m", "profai.cli", "worker", "--concurrency", "1"],
                            env=stack.worker_env(env), cwd=ROOT, stdout=(WORK / f"worker{n}.log").open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def kill_running(workers: list[subprocess.Popen], database_url: str, wait: float = 30) -> dict:
    """kill -9 the process group of a worker (pool child included) while it runs a job: the job whose
    lease is held by one of its processes (a lease owner is host:pid:tag). Waits up to `wait` s for one."""
    deadline = time.monotonic() + wait
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute("SELECT id, lease_owner, progress FROM jobs WHERE status IN ('processing', "
                                "'processing_chunks') AND lease_owner IS NOT NULL").fetchall()
            for job_id, owner, progress in rows:
                pid = int(owner.split(":")[1])
                for worker in workers:
                    if pid == worker.pid or pid in descendants(worker.pid):
                        os.killpg(worker.pid, signal.SIGKILL)
                        worker.wait()
                        workers.remove(worker)
                        return {"worker_pid": worker.pid, "job_id": job_id, "job_progress_at_kill": progress,
                                "killed_at": time.monotonic()}
            if time.monotonic() > deadline:
                return {"worker_pid": None, "job_id": None, "note": f"no job ran within {wait} s: nothing killed"}
            time.sleep(0.3)


# ---------------------------------------------------------------------------------- seeding


def browser(base: str, email: str) -> requests.Session:
    session = requests.Session()
    session.headers["Origin"] = base
    session.post(f"{base}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=60).raise_for_status()
    return session


def follow_job(base: str, job_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = requests.get(f"{base}/api/jobs/{job_id}", headers=ADMIN_HEADERS, timeout=10).json()
        except requests.RequestException:
            body = {"status": "unknown"}
        if body["status"] in FINISHED:
            return body
        time.sleep(1)
    return body


def seed(base: str, students: int, teachers: int) -> dict:
    """Accounts, the course (R-intro.pdf uploaded by the first teacher), every student in its class."""
    Run.teachers = [f"teacher{i}@load.example" for i in range(teachers)]
    Run.students = [f"student{i}@load.example" for i in range(students)]
    for role, emails in (("teacher", Run.teachers), ("student", Run.students)):
        for email in emails:
            requests.post(f"{base}/api/users", json={"email": email, "password": PASSWORD, "role": role},
                          headers=ADMIN_HEADERS, timeout=60).raise_for_status()
    teacher = browser(base, Run.teachers[0])
    started = time.monotonic()
    with COURSE_PDF.open("rb") as f:
        resp = teacher.post(f"{base}/api/upload-pdfs", data={"course_title": COURSE_TITLE},
                            files={"files": (COURSE_PDF.name, f, "application/pdf")}, timeout=120)
    resp.raise_for_status()
    job = follow_job(base, resp.json()["job_id"], timeout=900)
    if job["status"] != "completed":
        raise RuntimeError(f"the course was not built: {job}")
    Run.course_id = job["result"]["course_id"]
    course = teacher.get(f"{base}/api/courses/{Run.course_id}", timeout=60).json()
    for email in Run.students:
        browser(base, email).post(f"{base}/api/join", json={"code": course["join_code"]}, timeout=60).raise_for_status()
    # Warm up, as a server that has run for a while: each API process loads the embedding model and
    # keyword index on its first question, and a course's quiz material (its terms and their vectors)
    # on its first quiz. nginx takes turns between the two processes.
    for question in QUESTIONS[:6]:
        teacher.post(f"{base}/api/chat", json={"course_id": Run.course_id, "question": question},
                     timeout=120).raise_for_status()
    first_quizzes = []
    for _ in range(4):
        quiz_started = time.perf_counter()
        teacher.post(f"{base}/api/courses/{Run.course_id}/quizzes", json={"questions": 5}, timeout=120).raise_for_status()
        first_quizzes.append(round((time.perf_counter() - quiz_started) * 1000))
    return {"first_quizzes_ms": first_quizzes, "document": COURSE_PDF.name, "course_build_s": round(time.monotonic() - started),
            "modules": len(course["modules"]), "lessons": sum(len(m["lessons"]) for m in course["modules"]),
            "course_json_kb": round(len(json.dumps(course)) / 1024)}


# ---------------------------------------------------------------------------------- phases


def cpu_times(roots: list[int]) -> tuple[float, float, dict[int, float]]:
    """Busy CPU seconds of the whole machine (all cores; other work on it included), of this process
    (locust), and of each process under `roots` (the stack and the workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    ours: dict[int, float] = {}
    for pid in {p for root in roots for p in (root, *descendants(root))}:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ours[pid] = (int(stat[11]) + int(stat[12])) / tick  # utime, stime
    return (sum(fields[:8]) - idle) / tick, sum(os.times()[:2]), ours


def cpu_busy_pct(before: tuple, after: tuple, seconds: float) -> dict:
    """Percentages of the machine's cores; the stack's counts processes alive at both ends (not a
    killed worker's last seconds), and not the machine's PostgreSQL and Redis."""
    share = 100 / seconds / (os.cpu_count() or 1)
    stack = sum(cpu - before[2].get(pid, 0.0) for pid, cpu in after[2].items())
    return {"machine": round((after[0] - before[0]) * share), "stack": round(stack * share),
            "locust": round((after[1] - before[1]) * share)}


def log_offsets() -> dict[Path, int]:
    paths = [WORK / "stack" / "nginx" / "access.log", WORK / "stack.log", *WORK.glob("worker*.log")]
    return {p: p.stat().st_size if p.exists() else 0 for p in paths}


def log_findings(offsets: dict[Path, int]) -> dict:
    """What nginx answered (by status) and how many tracebacks the processes logged since `offsets`."""
    statuses: Counter[str] = Counter()
    tracebacks: Counter[str] = Counter()
    for path in [*offsets, *(p for p in WORK.glob("worker*.log") if p not in offsets)]:
        if not path.exists():
            continue
        with path.open("rb") as f:
            f.seek(offsets.get(path, 0))
            text = f.read().decode(errors="replace")
        if path.name == "access.log":
            statuses.update(m.group(1) for m in re.finditer(r'" (\d{3}) ', text))
        else:
            tracebacks[path.name] = text.count("Traceback")
    return {"nginx_statuses": dict(sorted(statuses.items())), "tracebacks": dict(tracebacks)}


def run_phase(name: str, args: argparse.Namespace, stack: subprocess.Popen, workers: list[subprocess.Popen]) -> dict:
    """Start the users (each signs in), then measure `duration` seconds of their load."""
    Run.phase = name
    Run.reset()
    Student.fixed_count, Teacher.fixed_count = args.students, args.teachers
    users = args.students + args.teachers
    env = Environment(user_classes=[Student, Teacher], host=Run.base)
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=args.spawn_rate)
    # The class signs in together (argon2 is slow on purpose): kept apart from the measured window.
    logins = Run.times[("POST", "/api/auth/login")]
    deadline = time.monotonic() + 120
    while len(logins) < users and time.monotonic() < deadline:
        gevent.sleep(0.2)
    sign_in = {"users": users, "spawn_rate_per_s": args.spawn_rate, "signed_in": len(logins),
               "p50_ms": round(percentile(logins, 50)) if logins else None, "max_ms": round(max(logins or [0])),
               "errors": Run.errors[("POST", "/api/auth/login")]}
    Run.reset()
    offsets = log_offsets()
    kill: dict = {}
    cpu = cpu_times([stack.pid, *(w.pid for w in workers)])
    started = time.monotonic()
    if name == "worker_killed":
        def killer() -> None:
            kill.update(kill_running(workers, f"{args.postgres}/{args.database}"))
            if kill.get("killed_at"):
                kill["at_s"] = round(kill["killed_at"] - started, 1)

        gevent.spawn_later(args.duration / 2, killer)
    gevent.sleep(args.duration)
    runner.quit()
    seconds = time.monotonic() - started
    cpu_busy = cpu_busy_pct(cpu, cpu_times([stack.pid, *(w.pid for w in workers)]), seconds)
    for ws in list(Run.sockets):  # users stopped mid-question leave theirs
        ws.close()
    Run.sockets.clear()
    result = {"sign_in": sign_in, **summarize(seconds, runner),
              "cpu_busy_pct": cpu_busy}
    result["jobs"] = settle_jobs(name, kill)
    kill.pop("killed_at", None)
    result["kill"] = kill or None
    result.update(log_findings(offsets))
    return result


def summarize(seconds: float, runner) -> dict:
    routes = []
    for (kind, name), times in sorted(Run.times.items(), key=lambda kv: (kv[0][0] == "WS", kv[0][1])):
        routes.append({"route": f"{kind} {name}", "requests": len(times), "rps": round(len(times) / seconds, 2),
                       "p50_ms": round(percentile(times, 50)), "p95_ms": round(percentile(times, 95)),
                       "p99_ms": round(percentile(times, 99)), "max_ms": round(max(times)),
                       "errors": Run.errors[(kind, name)], "rate_limited": Run.limited[(kind, name)]})
    requests_ = sum(r["requests"] for r in routes)
    errors = sum(r["errors"] for r in routes)
    return {"seconds": round(seconds, 1), "users": {"students": Student.fixed_count, "teachers": Teacher.fixed_count},
            "requests": requests_, "rps": round(requests_ / seconds, 1), "errors": errors,
            "error_rate_pct": round(100 * errors / max(1, requests_), 3),
            "rate_limited": sum(r["rate_limited"] for r in routes), "routes": routes,
            "error_kinds": dict(Run.error_kinds.most_common(20)),
            "locust_exceptions": {v["msg"][:200]: v["count"] for v in runner.exceptions.values()}}


def settle_jobs(phase: str, kill: dict, timeout: float = 300) -> dict:
    """Wait for the phase's uploads to settle (a killed worker's job after its lease); how each ended."""
    jobs = [j for j in Run.jobs if j["phase"] == phase]
    killed_job = kill.get("job_id")
    if killed_job and not any(j["job_id"] == killed_job for j in jobs):  # uploaded in the sign-in window
        jobs.append({"phase": phase, "job_id": killed_job, "uploaded_at": time.monotonic(), "body": None})
    deadline = time.monotonic() + timeout
    for job in jobs:
        if job["body"] is None:
            job["body"] = follow_job(Run.base, job["job_id"], max(1.0, deadline - time.monotonic()))
            job["settled_at"] = time.monotonic()
    to_settle = [j["settled_at"] - j["uploaded_at"] for j in jobs if j["body"]["status"] in FINISHED]
    return {"uploaded": len(jobs), "by_status": dict(Counter(j["body"]["status"] for j in jobs)),
            "run_again_after_a_kill": sum(1 for j in jobs if j["body"].get("attempts", 1) > 1),
            "upload_to_settled_s": {"p50": round(percentile(to_settle, 50), 1), "max": round(max(to_settle), 1)}
            if to_settle else None,
            "killed_job": next(({**{k: j["body"].get(k) for k in ("job_id", "status", "attempts")},
                                 "settled_s_after_the_kill": round(j["settled_at"] - kill["killed_at"], 1)
                                 if j["body"]["status"] in FINISHED else None}
                                for j in jobs if j["job_id"] == killed_job), None),
            "not_completed": [{k: j["body"].get(k) for k in ("job_id", "status", "error_code", "error", "attempts")}
                              for j in jobs if j["body"]["status"] != "completed"]}


def table(name: str, phase: dict) -> str:
    lines = [f"\n{name}: {phase['users']['students']} students + {phase['users']['teachers']} teachers, "
             f"{phase['seconds']} s, {phase['requests']} requests, {phase['rps']} req/s, "
             f"errors {phase['errors']} ({phase['error_rate_pct']} %), 429s {phase['rate_limited']}",
             f"{'route':<38}{'requests':>9}{'req/s':>8}{'p50':>7}{'p95':>7}{'p99':>7}{'max':>7}{'errors':>8}{'429':>6}"]
    lines.insert(1, f"signing in first (not in the window): {phase['sign_in']}")
    for r in phase["routes"]:
        lines.append(f"{r['route']:<38}{r['requests']:>9}{r['rps']:>8}{r['p50_ms']:>7}{r['p95_ms']:>7}"
                     f"{r['p99_ms']:>7}{r['max_ms']:>7}{r['errors']:>8}{r['rate_limited']:>6}")
    lines.append(f"(milliseconds) jobs: {phase['jobs']}")
    if phase["kill"]:
        lines.append(f"killed: {phase['kill']}")
    lines.append(f"nginx statuses: {phase['nginx_statuses']}; tracebacks logged: {phase['tracebacks']}; "
                 f"CPU busy (all cores = 100 %): {phase['cpu_busy_pct']}")
    for kind, count in phase["error_kinds"].items():
        lines.append(f"  {count:>5} x {kind}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120, help="seconds of load per phase")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--teachers", type=int, default=3)
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    parser.add_argument("--phases", default="steady,worker_killed")
    parser.add_argument("--port", type=int, default=8290, help="nginx")
    parser.add_argument("--api-ports", default="5291,5292")
    parser.add_argument("--chroma-port", type=int, default=8291)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="profai_load", help="dropped and created again")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database: lower-case letters, digits and _ only")
    phases = args.phases.split(",")

    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    env = {**os.environ, "API_KEY": TEST_ADMIN_KEY, "CELERY_QUEUE": f"profai-load-{uuid.uuid4().hex[:8]}"}
    # No workers in the stack: ours, so that killing one does not make honcho stop everything.
    stack = StackRun(WORK, port=args.port, api_ports=args.api_ports, chroma_port=args.chroma_port,
                     database=args.database, redis=args.redis, postgres=args.postgres, workers=0)
    Run.base = stack.url
    workers: list[subprocess.Popen] = []
    figures: dict = {}
    try:
        stack.start(env, timeout=240)
        workers += [start_worker(stack, env, n) for n in (1, 2)]
        print("stack up; seeding", flush=True)
        figures["setup"] = {**seed(Run.base, args.students, args.teachers), "duration_s": args.duration,
                            "students": args.students, "teachers": args.teachers, "api_processes": 2,
                            "celery_workers": 2, "nginx_limits": "100 r/s per address (burst 400), 30 uploads/min "
                                                                 "(burst 20): as deployed",
                            "student_think_s": [1, 3], "teacher_pause_s": [10, 20]}
        print(f"seeded: {figures['setup']}", flush=True)
        figures["phases"] = {}
        for name in phases:
            print(f"phase {name}: {args.duration:g} s", flush=True)
            figures["phases"][name] = run_phase(name, args, stack.proc, workers)
            print(table(name, figures["phases"][name]), flush=True)
    finally:
        for worker in workers:
            kill_group(worker, signal.SIGTERM)
        stack.stop()
    figures["goals"] = {f"zero_errors_{name}": p["errors"] == 0 and not any(
        s.startswith("5") for s in p["nginx_statuses"]) for name, p in figures["phases"].items()}
    figures["goals"].update({f"every_job_completed_{name}": set(p["jobs"]["by_status"]) <= {"completed"}
                             for name, p in figures["phases"].items()})
    save("load", figures)
    for name, phase in figures["phases"].items():
        print(table(name, phase))


if __name__ == "__main__":
    main()
