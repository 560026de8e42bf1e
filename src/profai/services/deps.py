"""What services use of the wiring, one protocol per capability (those jobs use too come from
jobs/deps.py, re-exported here); each service names the ones it needs (`class ChatDeps(HasSessions,
HasRetriever, HasGenerator, Protocol)`), so its signature says what it touches and a test can hand
it just that. wiring.Container has them all."""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy.engine import Engine

from profai.jobs.deps import HasBlobs, HasRunner, HasSessions, HasSettings, HasVectors
from profai.providers.embedder import Embedder
from profai.providers.generator import CourseGenerator
from profai.retrieval.hybrid import HybridRetriever
from profai.stores.audio_cache import AudioCache

__all__ = ["HasBlobs", "HasEmbedder", "HasGenerator", "HasReads", "HasRetriever", "HasRunner", "HasSessions",
           "HasSettings", "HasSpeech", "HasVectors", "submit"]
log = logging.getLogger(__name__)


class HasReads(Protocol):
    @property
    def reads(self) -> Engine:
        """Autocommit engine for single-statement status reads."""
        ...


class HasEmbedder(Protocol):
    @property
    def embedder(self) -> Embedder: ...


class HasGenerator(Protocol):
    @property
    def generator(self) -> CourseGenerator: ...


class HasRetriever(Protocol):
    @property
    def retriever(self) -> HybridRetriever: ...


class HasSpeech(Protocol):
    @property
    def speech(self) -> AudioCache: ...


def submit(deps: HasRunner, job_ids: list[str]) -> None:
    """Hand committed jobs to the runner. A process without one (runner "none") leaves them
    pending, where the runner of the process that has one finds them."""
    for job_id in job_ids:
        # Under the request's id, which the job keeps: this line leads to its worker's lines.
        log.info("job %s queued", job_id)
        if deps.runner is not None:
            deps.runner.submit(job_id)
