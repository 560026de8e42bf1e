"""Builds providers, stores and the job runner from Settings, once, at start-up. Nothing below
this module knows which backends it runs on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from profai.db.engine import make_engine, make_session_factory
from profai.jobs.compute import ComputePool, default_processes
from profai.settings import Settings
from profai.stores.blobs import LocalBlobStore
from profai.stores.vectors import ChromaVectorStore, VectorStore


def _local_embedder(s: Settings):
    from profai.providers.embedder import OnnxMiniLM

    return OnnxMiniLM(threads=s.embedding_threads)


EMBEDDERS: dict[str, Callable[[Settings], Any]] = {"local": _local_embedder}


def _extractive(s: Settings):
    from profai.providers.generator import ExtractiveGenerator

    return ExtractiveGenerator()


GENERATORS: dict[str, Callable[[Settings], Any]] = {"extractive": _extractive}


def build_embedder(s: Settings):
    """The Embedder named by EMBEDDER."""
    return _pick(EMBEDDERS, s.embedder, "EMBEDDER")(s)


def build_generator(s: Settings):
    """The CourseGenerator named by GENERATOR."""
    return _pick(GENERATORS, s.generator, "GENERATOR")(s)


def _pick(registry: dict[str, Callable], name: str, setting: str) -> Callable:
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"{setting}={name!r} is not available; choose one of {sorted(registry)}") from None


def build_vectors(s: Settings) -> VectorStore:
    if s.chroma_url:
        return ChromaVectorStore.server(s.chroma_url)
    return ChromaVectorStore.embedded(s.data_dir / "chroma")


@dataclass
class Container:
    """Everything a service or pipeline needs, built from one Settings object."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    vectors: VectorStore
    blobs: LocalBlobStore
    compute: ComputePool
    runner: Any = field(default=None)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        self.compute.shutdown()
        self.engine.dispose()


def build_container(s: Settings, *, runner: str | None = None, compute_processes: int | None = None) -> Container:
    """Wire everything; `runner` overrides JOB_RUNNER ("none" for processes that only read)."""
    from profai.db.migrate import upgrade

    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(s.sqlalchemy_url)
    upgrade(engine)
    processes = default_processes(s) if compute_processes is None else compute_processes
    ctx = Container(
        settings=s, engine=engine, sessions=make_session_factory(engine), vectors=build_vectors(s),
        blobs=LocalBlobStore(s.data_dir / "uploads"), compute=ComputePool(s, processes),
    )
    kind = runner or s.job_runner
    if kind == "local":
        from profai.jobs.local_runner import LocalRunner

        ctx.runner = LocalRunner(ctx)
    elif kind == "celery":
        from profai.jobs.celery_runner import CeleryRunner

        ctx.runner = CeleryRunner(ctx)
    return ctx
