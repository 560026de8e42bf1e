"""What the job layer needs from the wiring, as protocols: wiring's Container is one, a test may
build another. Jobs never import the wiring itself."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from profai.pipelines.compute import ComputePool
from profai.pipelines.embedding import BatchEmbedder
from profai.settings import Settings
from profai.stores.blobs import LocalBlobStore
from profai.stores.vectors import VectorStore


class Runner(Protocol):
    """Where job ids go to be run: the local pool, the table an API process polls, or Celery."""

    name: str

    def start(self) -> None: ...

    def stop(self, timeout: float = 30) -> None: ...

    def submit(self, job_id: str) -> None:
        """Run the job (whose row is committed) soon; never raises for a queue that is down."""
        ...

    def ping(self) -> None:
        """Raise if the queue cannot be reached (readiness)."""
        ...

    def stats(self) -> dict[str, Any]:
        """Workers, running jobs and (where known) queue depth."""
        ...


# One protocol per capability of the wiring; job kinds and services name the ones they use
# (services/deps.py adds those only services need).


class HasSettings(Protocol):
    @property
    def settings(self) -> Settings: ...


class HasSessions(Protocol):
    @property
    def sessions(self) -> sessionmaker[Session]: ...


class HasBlobs(Protocol):
    @property
    def blobs(self) -> LocalBlobStore: ...


class HasVectors(Protocol):
    @property
    def vectors(self) -> VectorStore: ...


class HasRunner(Protocol):
    @property
    def runner(self) -> Runner | None: ...


class JobDeps(HasSettings, HasSessions, HasBlobs, HasVectors, HasRunner, Protocol):
    """Stores, compute and the runner that job kinds and runners use."""

    @property
    def compute(self) -> ComputePool: ...

    @property
    def passage_embedder(self) -> BatchEmbedder: ...
