"""Maps a job kind to how it runs, how it is cleaned up and (for split jobs) how it settles.
Kinds register themselves from outside the pipelines they run (jobs/course_job.py,
jobs/dataset_job.py, and any PROFAI_PLUGINS module)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from profai.jobs.deps import JobDeps
from profai.jobs.handle import JobHandle
from profai.settings import get_settings

# Returned by a run that handed its work to parts (and deferred its job in the same
# transaction); the job stays in processing_chunks until its parts settle it.
DEFERRED: dict[str, Any] = {"deferred": True}


@dataclass(frozen=True)
class JobKind:
    run: Callable[[JobHandle, JobDeps], dict[str, Any]]
    # Removes what a failed or cancelled job wrote; run once, when nobody writes for it any more.
    cleanup: Callable[[str, dict[str, Any], JobDeps], None]
    # For jobs split into parts: called after each part finishes, decides the parent's state.
    settle: Callable[[str, JobDeps], None] | None = None


_KINDS: dict[str, JobKind] = {}
BUILT_IN = ("profai.jobs.course_job", "profai.jobs.dataset_job")


def register(kind: str, job_kind: JobKind) -> None:
    _KINDS[kind] = job_kind


def kind_for(kind: str) -> JobKind:
    if kind not in _KINDS:
        load_kinds(get_settings().plugins)
    return _KINDS[kind]


def load_kinds(plugins: str = "") -> None:
    """Import the built-in job kinds and any PROFAI_PLUGINS modules (each registers itself)."""
    for name in (*BUILT_IN, *filter(None, (p.strip() for p in plugins.split(",")))):
        importlib.import_module(name)
