"""Maps a job kind to the pipeline that runs it and the clean-up after a final failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from profai.jobs.handle import JobHandle
    from profai.wiring import Container


@dataclass(frozen=True)
class Pipeline:
    run: Callable[[JobHandle, Container], dict[str, Any]]
    cleanup: Callable[[str, dict[str, Any], Container], None]


_PIPELINES: dict[str, Pipeline] = {}


def register(kind: str, pipeline: Pipeline) -> None:
    _PIPELINES[kind] = pipeline


def pipeline_for(kind: str) -> Pipeline:
    if not _PIPELINES:
        import profai.pipelines  # noqa: F401  (registers every pipeline on import)
    return _PIPELINES[kind]
