"""A hosted backend: any OpenAI-compatible `POST {base}/audio/speech` endpoint.

The request is `{"model", "input", "voice", "response_format"}` and the response body is the
audio. Retries, backoff and the rate limit are the shared ones of providers/http_retry.py: 429, 408
and 5xx are retried (Retry-After honoured), then ProviderUnavailable (503); other refusals are
ProviderError (502). Sarvam (`/text-to-speech`, `target_language_code`), ElevenLabs or a
self-hosted Piper server plug in the same way: a class with `name`, `rate_wpm`, `synthesize`,
`voices` and `resolve_voice` that maps `language` to the vendor's field, added to SPEECH in wiring.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal, TypeVar

import httpx

from profai.errors import InvalidInput
from profai.providers.http_retry import DEFAULT_POLICY, LazyClient, MalformedResponse, post
from profai.providers.ratelimit import RateLimiter
from profai.providers.speech.base import MP3, Audio, Pcm, Voice, join_wav, read_wav, split_for_speech

T = TypeVar("T")

# OpenAI's documented voices; each reads any language the model knows.
OPENAI_VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse")
# speed=1.0 on OpenAI's voices is close to eSpeak's default rate, so SPEECH_RATE means the same on both.
_NATIVE_WPM = 165


class HostedSpeech:
    """Speech from an OpenAI-compatible HTTP API: long text in pieces, retries, one file back."""

    def __init__(
        self, base_url: str, model: str = "tts-1", api_key: str | None = None, *, rate_wpm: int = _NATIVE_WPM,
        default_voice: str | None = None, voices: tuple[str, ...] = OPENAI_VOICES,
        response_format: Literal["wav", "mp3"] = "wav", max_input_chars: int = 4096,
        limiter: RateLimiter | None = None, timeout: float = 60.0, max_attempts: int = 3,
    ) -> None:
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key
        self.name = f"hosted:{httpx.URL(self.base_url).host}:{model}"
        self.rate_wpm = rate_wpm
        self.default_voice = default_voice or (voices[0] if voices else None)
        self.allowed_voices = tuple(voices)  # empty: accept any voice and let the vendor judge
        self.response_format = response_format
        self.max_input_chars = max_input_chars  # OpenAI refuses input over 4,096 characters
        self.limiter, self.timeout, self.max_attempts = limiter, timeout, max_attempts
        self._http = LazyClient(api_key)

    def __getstate__(self) -> dict[str, Any]:
        # Clients and locks do not pickle; a copy in a worker process builds its own on first use.
        state = {k: getattr(self, k) for k in ("base_url", "model", "api_key", "rate_wpm", "default_voice",
                                                "response_format", "max_input_chars", "limiter", "timeout",
                                                "max_attempts")}
        return {**state, "voices": self.allowed_voices}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    def synthesize(self, text: str, language: str, voice: str | None) -> Audio:
        """Speak `text` as one file; text over the vendor's input limit is sent in sentence-aligned pieces."""
        voice_id = self.resolve_voice(language, voice)
        texts = split_for_speech(text, self.max_input_chars)
        if self.response_format == "wav":
            return join_wav([self._post(piece, voice_id, self._wav) for piece in texts])
        pieces = [self._post(piece, voice_id, self._mp3) for piece in texts]
        # MP3 frames are self-contained, so pieces play back to back when simply appended.
        return Audio(b"".join(body for body, _ in pieces), MP3, sum(seconds for _, seconds in pieces))

    def voices(self) -> list[Voice]:
        """The configured voice names; hosted voices are multilingual ("mul")."""
        return [Voice(id=v, language="mul", name=v) for v in self.allowed_voices]

    def resolve_voice(self, language: str, voice: str | None) -> str:
        """The requested voice, else the default; checked against the configured list."""
        chosen = (voice or self.default_voice or "").strip()
        if not chosen or (self.allowed_voices and chosen not in self.allowed_voices):
            raise InvalidInput(f"Unknown voice {voice!r}; choose one of {list(self.allowed_voices)}",
                               code="unknown_voice")
        return chosen

    def close(self) -> None:
        self._http.close()

    def _post(self, text: str, voice: str, parse: Callable[[bytes], T]) -> T:
        """One piece of speech, read by `parse` (_wav or _mp3)."""
        payload: dict[str, Any] = {"model": self.model, "input": text, "voice": voice,
                                   "response_format": self.response_format}
        if self.rate_wpm != _NATIVE_WPM:
            payload["speed"] = round(self.rate_wpm / _NATIVE_WPM, 2)
        return post(self._http.get(), f"{self.base_url}/audio/speech", payload, parse=parse,
                    what=f"speech ({self.model})", limiter=self.limiter,
                    policy=replace(DEFAULT_POLICY, max_attempts=self.max_attempts, timeout=self.timeout))

    # A proxy's HTML error page with status 200 is worth another try, not a corrupt cache entry.
    def _wav(self, body: bytes) -> Pcm:
        try:
            return read_wav(body)
        except ValueError as exc:
            raise MalformedResponse(f"not wav audio: {exc}") from None

    def _mp3(self, body: bytes) -> tuple[bytes, float]:
        """MP3 bytes with their play time."""
        try:
            seconds = mp3_seconds(body)
            if not seconds:
                raise ValueError("no MP3 frames")
        except ValueError as exc:
            raise MalformedResponse(f"not mp3 audio: {exc}") from None
        return body, seconds


# MPEG audio layer III frame header tables (ISO 11172-3, 13818-3), kbit/s and Hz.
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mp3_seconds(data: bytes) -> float:
    """Play time of an MP3 by walking its frame headers (exact for CBR and VBR, no decoder needed)."""
    pos, seconds = 0, 0.0
    if data[:3] == b"ID3" and len(data) >= 10:  # skip an ID3v2 tag; its size is 4 x 7-bit
        pos = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
    while pos + 4 <= len(data):
        b1, b2 = data[pos + 1], data[pos + 2]
        version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
        bitrate_i, rate_i = b2 >> 4, (b2 >> 2) & 3
        if data[pos] != 0xFF or b1 & 0xE0 != 0xE0 or version == 1 or layer != 1 or bitrate_i in (0, 15) \
                or rate_i == 3:
            pos += 1  # not a layer III frame header: resynchronise
            continue
        rate = _SAMPLE_RATES[version][rate_i]
        bitrate = _BITRATES[1 if version == 3 else 2][bitrate_i] * 1000
        samples = 1152 if version == 3 else 576
        pos += samples // 8 * bitrate // rate + ((b2 >> 1) & 1)
        seconds += samples / rate
    return seconds
