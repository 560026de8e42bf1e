"""ProfAI's Prometheus metrics, and their exposition across processes.

A deployment is many processes: `profai serve` runs API_PROCESSES of them plus compute and PDF
reader children, and each Celery worker forks its pool. prometheus-client's multiprocess mode
counts them all: every process writes its samples to memory-mapped files in one folder
(PROMETHEUS_MULTIPROC_DIR, chosen before prometheus_client is imported: observability.process),
and a scrape of any API process adds up the folder. Counters and histograms of a process that
exited stay counted until the server starts again (then the parent removes the files of dead
processes); live gauges (open WebSockets) of a dead process are dropped at the next scrape.
Without the folder (tests in one process, the CLI) the metrics are this process's alone.

Names follow Prometheus' conventions: `_total` counters, `_seconds` histograms, labels drawn
from bounded sets (route templates, never raw paths; job kinds; hosted API names)."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client import values as _values
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from profai.observability.process import MULTIPROC_ENV

# The classic text format (names escaped to underscores), which every Prometheus version reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Seconds. Requests: status reads take milliseconds, uploads and chat answers seconds.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Jobs and their steps: a small PDF in seconds, a 1,000-page book or 1M rows in tens of minutes.
_JOB_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
_CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

HTTP_REQUESTS = Counter("profai_http_requests", "HTTP requests answered, by method, route template and status",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("profai_http_request_duration_seconds", "Time to answer an HTTP request, by route template",
                         ["method", "route"], buckets=_REQUEST_BUCKETS)
WS_SESSIONS = Counter("profai_websocket_sessions", "WebSocket sessions accepted, by route", ["route"])
WS_OPEN = Gauge("profai_websocket_sessions_open", "WebSocket sessions open now, by route", ["route"],
                multiprocess_mode="livesum")
JOB_RUNS = Counter("profai_job_runs", "Job runs that ended, by kind and outcome (completed, failed, "
                   "deferred to its parts, requeued, released at shutdown, lost its lease)", ["kind", "outcome"])
JOB_SECONDS = Histogram("profai_job_duration_seconds", "Time from claiming a job to the end of the run",
                        ["kind", "outcome"], buckets=_JOB_BUCKETS)
STEP_SECONDS = Histogram("profai_job_step_duration_seconds", "Time spent in each step a job reports "
                         "(a course's reading, then indexing)", ["kind", "step"], buckets=_JOB_BUCKETS)
PASSAGES_EMBEDDED = Counter("profai_passages_embedded", "Course passages embedded and stored for chat")
ROWS_EMBEDDED = Counter("profai_rows_embedded", "CSV dataset rows embedded and stored")
HOSTED_REQUESTS = Counter("profai_hosted_api_requests", "Requests sent to hosted APIs (each attempt)", ["api"])
HOSTED_RATE_LIMITED = Counter("profai_hosted_api_rate_limited", "HTTP 429 answers from hosted APIs", ["api"])
HOSTED_RETRIES = Counter("profai_hosted_api_retries", "Hosted API attempts retried after a transient failure",
                         ["api"])
HOSTED_SECONDS = Histogram("profai_hosted_api_request_duration_seconds", "Time of one hosted API attempt",
                           ["api"], buckets=_CALL_BUCKETS)


_http_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}


def http_request(method: str, route: str, status: str, seconds: float) -> None:
    """Count one answered request and its latency. Every request passes here: the labelled series
    are looked up once each (labels() costs as much as the increment itself)."""
    series = _http_series.get((method, route, status))
    if series is None:
        series = _http_series[(method, route, status)] = (HTTP_REQUESTS.labels(method, route, status),
                                                          HTTP_SECONDS.labels(method, route))
    series[0].inc()
    series[1].observe(seconds)


def hosted_api(what: str) -> str:
    """The `api` label of a hosted call from its description ("embeddings (model)", "chat stream
    (model)", "speech (model)"): its first word, so models never become labels."""
    return what.split(" ", 1)[0] or "unknown"


class StepClock:
    """Times the steps a job reports, observing each one's duration when the next begins."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.step: str | None = None
        self.since = 0.0

    def at(self, step: str | None) -> None:
        """The job reports being in `step` (None: in no named step)."""
        if step == self.step:
            return
        now = time.monotonic()
        if self.step is not None:
            STEP_SECONDS.labels(self.kind, self.step).observe(now - self.since)
        self.step, self.since = step, now

    def close(self) -> None:
        self.at(None)


# --- exposition ----------------------------------------------------------------------------------


def folder() -> Path | None:
    """The multiprocess folder, if this process writes its samples there."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path and getattr(_values.ValueClass, "_multiprocess", False) else None


def job_families(counts: dict[tuple[str, str], int], states: Iterable[str], queued: str) -> list[Metric]:
    """Gauges read from the job table at scrape time: jobs by kind and state (every state of every
    kind seen, zeros included, so a panel's series do not come and go) and the queue's depth
    (jobs in state `queued`, waiting for a worker)."""
    jobs = GaugeMetricFamily("profai_jobs", "Jobs in the database, by kind and state", labels=["kind", "state"])
    for kind in sorted({kind for kind, _ in counts}):
        for state in states:
            jobs.add_metric([kind, state], counts.get((kind, state), 0))
    depth = GaugeMetricFamily("profai_job_queue_depth", "Jobs waiting for a worker",
                              value=sum(n for (_, state), n in counts.items() if state == queued))
    return [jobs, depth]


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def render(extra: Iterable[Metric] = ()) -> bytes:
    """The text exposition of every process's metrics, plus `extra` families (gauges read at
    scrape time, such as jobs by state from the database)."""
    path = folder()
    if path is None:
        registry = REGISTRY
    else:
        mark_dead(path)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(path))
    return generate_latest(registry) + generate_latest(_Families(extra))


_FILE = re.compile(r"(?P<kind>.+)_(?P<pid>\d+)\.db")


def _files(path: Path) -> Iterable[tuple[Path, str, int]]:
    for file in path.glob("*.db"):
        if match := _FILE.fullmatch(file.name):
            yield file, match["kind"], int(match["pid"])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_dead(path: Path) -> None:
    """Drop the live gauges of processes that are gone (killed, or ended without saying so)."""
    for pid in {pid for _, kind, pid in _files(path) if kind.startswith("gauge_live")}:
        if not pid_alive(pid):
            multiprocess.mark_process_dead(pid, str(path))


def wipe_stale(path: Path) -> None:
    """At server start, in its first process: remove what processes of earlier runs left. Files of
    live processes stay (a worker started before the server keeps being counted)."""
    for file, _, pid in _files(path):
        if not pid_alive(pid):
            with contextlib.suppress(FileNotFoundError):
                file.unlink()
    # A container started again reuses its pids: live gauges this process's pid left in an earlier
    # run would count as its own (open sockets that never close). It has opened none yet; its
    # counter file, already open, stays (a counter going on from there reads as no reset).
    multiprocess.mark_process_dead(os.getpid(), str(path))
