"""A server or worker process's start: its logs, and the folder its metrics go to.

prometheus-client picks single- or multiprocess mode once, when it is imported, from
PROMETHEUS_MULTIPROC_DIR; children (API processes, compute and PDF reader processes, Celery's
pool) inherit the variable. So `profai serve` and `profai worker` call `start` before importing
anything that records a metric; the server's first process then removes what earlier runs left
(metrics.wipe_stale), the others only add to the folder."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from profai.observability import logs

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def start(log_format: str, metrics_dir: Path) -> None:
    """Configure logging, then point prometheus-client (not imported yet) at `metrics_dir`."""
    logs.configure(log_format)
    share_metrics(metrics_dir)


def share_metrics(metrics_dir: Path) -> None:
    """Point prometheus-client (not imported yet) at `metrics_dir`, for this process and its children."""
    metrics_dir = metrics_dir.resolve()
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    if "prometheus_client" in sys.modules:  # too late for this process: its samples stay its own
        logging.getLogger(__name__).warning("prometheus_client was imported before %s was set: this process's "
                                            "metrics are not shared", MULTIPROC_ENV)
