"""Backends by name: the settings EMBEDDER, GENERATOR and SPEECH pick one each, checked against
these registries; a factory builds it from Settings (in the API, a job or a compute process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from profai.providers.embedder import Embedder
from profai.providers.generator import CourseGenerator
from profai.providers.speech import Speech
from profai.settings import Settings

T = TypeVar("T")


def _local_embedder(s: Settings) -> Embedder:
    from profai.providers.embedder import OnnxMiniLM

    return OnnxMiniLM(threads=s.embedding_threads, runtime=s.embedding_runtime, precision=s.embedding_precision)


def _openai_embedder(s: Settings) -> Embedder:
    from profai.providers.http_retry import RetryPolicy
    from profai.providers.openai_embedder import OpenAIEmbedder
    from profai.providers.ratelimit import build_rate_limiter

    return OpenAIEmbedder(s.embedding_base_url, s.embedding_model, s.openai_api_key,
                          limiter=build_rate_limiter(s, "openai"), dimension=s.embedding_dimension,
                          retry=RetryPolicy(timeout=s.http_timeout_seconds))


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {"local": _local_embedder, "openai": _openai_embedder}


def _extractive(s: Settings) -> CourseGenerator:
    from profai.providers.generator import ExtractiveGenerator

    return ExtractiveGenerator()


def _openai_generator(s: Settings) -> CourseGenerator:
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


GENERATORS: dict[str, Callable[[Settings], CourseGenerator]] = {"extractive": _extractive, "openai": _openai_generator}


def _espeak(s: Settings) -> Speech:
    from profai.providers.speech import EspeakSpeech

    return EspeakSpeech(rate_wpm=s.speech_rate_wpm, default_voice=s.speech_voice)


def _openai_speech(s: Settings) -> Speech:
    from profai.providers.ratelimit import build_rate_limiter
    from profai.providers.speech import HostedSpeech

    return HostedSpeech(
        s.speech_base_url or "https://api.openai.com/v1", s.speech_model, s.speech_api_key or s.openai_api_key,
        rate_wpm=s.speech_rate_wpm, default_voice=s.speech_voice, limiter=build_rate_limiter(s, "speech"),
        timeout=s.http_timeout_seconds,
    )


SPEECH: dict[str, Callable[[Settings], Speech]] = {"espeak": _espeak, "openai": _openai_speech}


def build_embedder(s: Settings) -> Embedder:
    """The Embedder named by EMBEDDER."""
    return _pick(EMBEDDERS, s.embedder, "EMBEDDER")(s)


def build_generator(s: Settings) -> CourseGenerator:
    """The CourseGenerator named by GENERATOR."""
    return _pick(GENERATORS, s.generator, "GENERATOR")(s)


def build_speech(s: Settings) -> Speech:
    """The Speech backend named by SPEECH."""
    return _pick(SPEECH, s.speech, "SPEECH")(s)


def _pick(registry: dict[str, Callable[[Settings], T]], name: str, setting: str) -> Callable[[Settings], T]:
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"{setting}={name!r} is not available; choose one of {sorted(registry)}") from None
