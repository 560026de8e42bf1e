"""Builds providers, stores and the job runner from Settings, once, at start-up. Nothing below
this module knows which backends it runs on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from profai.db.engine import make_engine, make_session_factory
from profai.db.migrate import upgrade
from profai.jobs.celery_runner import CeleryRunner
from profai.jobs.deps import Runner
from profai.jobs.local_runner import LocalRunner, PolledQueue
from profai.pipelines import heavy
from profai.pipelines.compute import ComputePool, default_processes
from profai.pipelines.embedding import BatchEmbedder, DirectEmbedder, PooledEmbedder
from profai.providers.embedder import Embedder
from profai.providers.generator import CourseGenerator
from profai.providers.registry import build_embedder, build_generator, build_speech
from profai.retrieval.hybrid import HybridRetriever
from profai.settings import Settings
from profai.stores.audio_cache import AudioCache
from profai.stores.blobs import LocalBlobStore
from profai.stores.vector_process import VectorStoreProcess
from profai.stores.vectors import VectorStore, chroma_store, embedded_dir

T = TypeVar("T")


def build_vectors(s: Settings, *, own_process: bool) -> VectorStore:
    """Chroma Cloud's or a Chroma server's client, or embedded Chroma: in a child process when heavy
    work runs in processes (see stores.vector_process), in this one when it runs inline."""
    if own_process and s.vector_backend == "embedded":
        return VectorStoreProcess(embedded_dir(s))
    return chroma_store(s)


@dataclass
class Container:
    """Everything a service or job needs, built from one Settings object. Services and jobs
    type what they use of it as protocols (services/*Deps, jobs.deps.JobDeps)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    vectors: VectorStore
    blobs: LocalBlobStore
    compute: ComputePool
    runner: Runner | None = None
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)

    def _once(self, name: str, make: Callable[[], T]) -> T:
        # Providers load models or open clients: build each on first use, once per process, one
        # lock per name so a slow model load does not hold up the others (setdefault is atomic, so
        # two first callers cannot each get a lock of their own).
        with self._locks.setdefault(name, threading.Lock()):
            if name not in self._built:
                self._built[name] = make()
            built: T = self._built[name]
            return built

    @property
    def reads(self) -> Engine:
        """Autocommit engine for the status reads that many clients poll (API processes only)."""
        return self._once("reads", lambda: make_engine(self.settings.sqlalchemy_url, hot_reads=True))

    @property
    def embedder(self) -> Embedder:
        """This process's Embedder (query embedding in the API, hosted backends in jobs)."""
        return self._once("embedder", lambda: build_embedder(self.settings))

    @property
    def passage_embedder(self) -> BatchEmbedder:
        """Embeds a job's passages and rows: the local model in the compute processes when there
        are any, else this process's embedder in the job's own thread."""
        if self.settings.embedder == "local" and self.compute.processes:
            return self._once("passage_embedder", lambda: PooledEmbedder(self.compute))
        return self._once("passage_embedder", lambda: DirectEmbedder(self.embedder))

    @property
    def generator(self) -> CourseGenerator:
        """The CourseGenerator that answers questions and writes quizzes in this process."""
        return self._once("generator", lambda: build_generator(self.settings))

    @property
    def retriever(self) -> HybridRetriever:
        """Hybrid (vector + keyword) search over a course's passages."""
        return self._once("retriever", lambda: HybridRetriever(self.vectors, lambda q: self.embedder.embed([q])[0]))

    @property
    def speech(self) -> AudioCache:
        """The Speech backend behind its on-disk cache of synthesised audio."""
        s = self.settings
        return self._once("speech", lambda: AudioCache(build_speech(s), s.data_dir / "audio",
                                                       max_bytes=int(s.audio_cache_mb * 1024 * 1024)))

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.compute.shutdown()
        self.vectors.close()
        self.engine.dispose()
        if "reads" in self._built:
            self.reads.dispose()


RUNNERS: dict[str, Callable[[Container], Runner]] = {
    "local": LocalRunner,
    "polled": PolledQueue,  # API processes beside the one that runs local jobs
    "celery": CeleryRunner,
}


def build_container(s: Settings, *, runner: str | None = None, compute_processes: int | None = None) -> Container:
    """Wire everything; `runner` overrides JOB_RUNNER ("none" for processes that only read,
    "polled" for API processes beside the one that runs local jobs)."""
    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(s.sqlalchemy_url)
    upgrade(engine)
    processes = default_processes(s) if compute_processes is None else compute_processes
    compute = ComputePool(s, processes)
    ctx = Container(
        settings=s, engine=engine, sessions=make_session_factory(engine),
        vectors=build_vectors(s, own_process=processes > 0), blobs=LocalBlobStore(s.data_dir / "uploads"),
        compute=compute,
    )
    # Inline heavy steps (no compute processes) use this container's providers, built once.
    compute.inline = heavy.Providers(lambda: ctx.embedder, lambda: ctx.generator)
    kind = runner or s.job_runner
    if kind in RUNNERS:
        ctx.runner = RUNNERS[kind](ctx)
    return ctx
