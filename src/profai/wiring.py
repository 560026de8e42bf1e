"""Builds providers, stores and the job runner from Settings, once, at start-up. Nothing below
this module knows which backends it runs on."""

from __future__ import annotations

import threading
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


def _openai_embedder(s: Settings):
    from profai.providers.openai_embedder import OpenAIEmbedder
    from profai.providers.ratelimit import build_rate_limiter

    return OpenAIEmbedder(s.embedding_base_url, s.embedding_model, s.openai_api_key,
                          limiter=build_rate_limiter(s, "openai"), dimension=s.embedding_dimension,
                          timeout=s.http_timeout_seconds)


EMBEDDERS: dict[str, Callable[[Settings], Any]] = {"local": _local_embedder, "openai": _openai_embedder}


def _extractive(s: Settings):
    from profai.providers.generator import ExtractiveGenerator

    return ExtractiveGenerator()


GENERATORS: dict[str, Callable[[Settings], Any]] = {"extractive": _extractive}


def _espeak(s: Settings):
    from profai.providers.speech import EspeakSpeech

    return EspeakSpeech(rate_wpm=s.speech_rate_wpm, default_voice=s.speech_voice)


def _openai_speech(s: Settings):
    from profai.providers.ratelimit import build_rate_limiter
    from profai.providers.speech import HostedSpeech

    return HostedSpeech(
        s.speech_base_url or "https://api.openai.com/v1", s.speech_model, s.speech_api_key or s.openai_api_key,
        rate_wpm=s.speech_rate_wpm, default_voice=s.speech_voice, limiter=build_rate_limiter(s, "speech"),
        timeout=s.http_timeout_seconds,
    )


SPEECH: dict[str, Callable[[Settings], Any]] = {"espeak": _espeak, "openai": _openai_speech}


def build_embedder(s: Settings):
    """The Embedder named by EMBEDDER."""
    return _pick(EMBEDDERS, s.embedder, "EMBEDDER")(s)


def build_generator(s: Settings):
    """The CourseGenerator named by GENERATOR."""
    return _pick(GENERATORS, s.generator, "GENERATOR")(s)


def build_speech(s: Settings):
    """The Speech backend named by SPEECH."""
    return _pick(SPEECH, s.speech, "SPEECH")(s)


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
    _embedder: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def embedder(self):
        """This process's Embedder, built on first use (query embedding, hosted backends)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = build_embedder(self.settings)
            return self._embedder

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
