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
    from profai.providers.http_retry import RetryPolicy
    from profai.providers.openai_embedder import OpenAIEmbedder
    from profai.providers.ratelimit import build_rate_limiter

    return OpenAIEmbedder(s.embedding_base_url, s.embedding_model, s.openai_api_key,
                          limiter=build_rate_limiter(s, "openai"), dimension=s.embedding_dimension,
                          retry=RetryPolicy(timeout=s.http_timeout_seconds))


EMBEDDERS: dict[str, Callable[[Settings], Any]] = {"local": _local_embedder, "openai": _openai_embedder}


def _extractive(s: Settings):
    from profai.providers.generator import ExtractiveGenerator

    return ExtractiveGenerator()


def _openai_generator(s: Settings):
    from profai.providers.generator import ExtractiveGenerator
    from profai.providers.generator.llm import LLMGenerator
    from profai.providers.openai_chat import ChatClient

    missing = [name for name, value in (("LLM_BASE_URL", s.llm_base_url), ("LLM_MODEL", s.llm_model)) if not value]
    if missing:
        raise ValueError(f"GENERATOR=openai needs {' and '.join(missing)}")
    # Half the job's time limit for writing lessons: extraction and embedding come first, and
    # lessons the model has not reached by then keep their source text.
    return LLMGenerator(ChatClient.from_settings(s), ExtractiveGenerator(),
                        course_seconds=(s.task_soft_timeout or s.task_timeout) / 2)


GENERATORS: dict[str, Callable[[Settings], Any]] = {"extractive": _extractive, "openai": _openai_generator}


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


def build_vectors(s: Settings, *, own_process: bool) -> VectorStore:
    """A Chroma server's client, or embedded Chroma: in a child process when heavy work runs in
    processes (see stores.vector_process), in this one when it runs inline."""
    if s.chroma_url:
        return ChromaVectorStore.server(s.chroma_url)
    if own_process:
        from profai.stores.vector_process import VectorStoreProcess

        return VectorStoreProcess(s.data_dir / "chroma")
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
    _built: dict[str, Any] = field(default_factory=dict, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)

    def _once(self, name: str, make: Callable[[], Any]) -> Any:
        # Providers load models or open clients: build each on first use, once per process, one
        # lock per name so a slow model load does not hold up the others (setdefault is atomic, so
        # two first callers cannot each get a lock of their own).
        with self._locks.setdefault(name, threading.Lock()):
            if name not in self._built:
                self._built[name] = make()
            return self._built[name]

    @property
    def reads(self) -> Engine:
        """Autocommit engine for the status reads that many clients poll (API processes only)."""
        return self._once("reads", lambda: make_engine(self.settings.sqlalchemy_url, hot_reads=True))

    @property
    def embedder(self):
        """This process's Embedder (query embedding in the API, hosted backends in jobs)."""
        return self._once("embedder", lambda: build_embedder(self.settings))

    @property
    def generator(self):
        """The CourseGenerator that answers questions and writes quizzes in this process."""
        return self._once("generator", lambda: build_generator(self.settings))

    @property
    def retriever(self):
        """Hybrid (vector + keyword) search over a course's passages."""
        from profai.retrieval.hybrid import HybridRetriever

        return self._once("retriever", lambda: HybridRetriever(self.vectors, lambda q: self.embedder.embed([q])[0]))

    @property
    def speech(self):
        """The Speech backend with its on-disk cache of synthesised audio."""
        from profai.services.audio import AudioCache

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
            self._built["reads"].dispose()


def build_container(s: Settings, *, runner: str | None = None, compute_processes: int | None = None) -> Container:
    """Wire everything; `runner` overrides JOB_RUNNER ("none" for processes that only read,
    "polled" for API processes beside the one that runs local jobs)."""
    from profai.db.migrate import upgrade

    s.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(s.sqlalchemy_url)
    upgrade(engine)
    processes = default_processes(s) if compute_processes is None else compute_processes
    ctx = Container(
        settings=s, engine=engine, sessions=make_session_factory(engine), vectors=build_vectors(s, own_process=processes > 0),
        blobs=LocalBlobStore(s.data_dir / "uploads"), compute=ComputePool(s, processes),
    )
    kind = runner or s.job_runner
    if kind == "local":
        from profai.jobs.local_runner import LocalRunner

        ctx.runner = LocalRunner(ctx)
    elif kind == "polled":
        from profai.jobs.local_runner import PolledQueue

        ctx.runner = PolledQueue(ctx)
    elif kind == "celery":
        from profai.jobs.celery_runner import CeleryRunner

        ctx.runner = CeleryRunner(ctx)
    return ctx
