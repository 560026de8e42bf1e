"""Maps a job kind to the pipeline that runs it and the clean-up after a final failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profai.jobs.handle import JobHandle
    from profai.wiring import Container


# Returned by a pipeline that handed its work to parts (and deferred its job in the same
# transaction); the job stays in processing_chunks until its parts settle it.
DEFERRED: dict[str, Any] = {"deferred": True}


@dataclass(frozen=True)
class Pipeline:
    run: Callable[[JobHandle, Container], dict[str, Any]]
    cleanup: Callable[[str, dict[str, Any], Container], None]
    # For jobs split into parts: called after each part finishes, decides the parent's state.
    settle: Callable[[str, Container], None] | None = None


_PIPELINES: dict[str, Pipeline] = {}


def register(kind: str, pipeline: Pipeline) -> None:
    _PIPELINES[kind] = pipeline


def pipeline_for(kind: str) -> Pipeline:
    if not _PIPELINES:
        load_pipelines()
    return _PIPELINES[kind]


def load_pipelines(plugins: str | None = None) -> None:
    """Import the built-in pipelines and any PROFAI_PLUGINS modules (each registers itself)."""
    import importlib

    import profai.pipelines  # noqa: F401

    if plugins is None:
        from profai.settings import get_settings

        plugins = get_settings().plugins
    for name in filter(None, (p.strip() for p in plugins.split(","))):
        importlib.import_module(name)
