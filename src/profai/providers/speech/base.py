"""The Speech interface, its value types, and what every backend needs: text split into pieces a
synthesiser accepts, and WAV pieces joined into one file."""

from __future__ import annotations

import io
import re
import struct
import wave
from dataclasses import dataclass
from typing import Protocol

from profai.text import split_sentences

WAV = "audio/wav"
MP3 = "audio/mpeg"

# Inside an over-long sentence: clause punctuation (incl. the Devanagari danda), then any space.
_CLAUSE_RE = re.compile(r"(?<=[,;:।॥])\s+")
_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Audio:
    """Synthesised speech: the encoded bytes, their media type and how long they play."""

    data: bytes
    media_type: str  # WAV or MP3
    seconds: float


@dataclass(frozen=True)
class Voice:
    """A voice a backend offers; `id` is what `synthesize(voice=...)` accepts."""

    id: str
    language: str  # BCP 47-ish code; "mul" for voices that read any language
    name: str
    gender: str | None = None  # "male" | "female" | None when the backend does not say


class Speech(Protocol):
    """Turns text into audio. One instance serves many threads."""

    name: str  # identifies the audio it makes (backend, model): part of cache keys
    rate_wpm: int  # speaking rate; also part of cache keys

    def synthesize(self, text: str, language: str, voice: str | None) -> Audio:
        """Speak `text` of any length as one audio file; voice None picks one for `language`."""
        ...

    def voices(self) -> list[Voice]:
        """The voices this backend offers."""
        ...

    def resolve_voice(self, language: str, voice: str | None) -> str:
        """The voice id `synthesize` would use; raises InvalidInput("unknown_voice") if there is none."""
        ...


def split_for_speech(text: str, max_chars: int) -> list[str]:
    """Pack whole sentences into pieces of at most `max_chars`, splitting only sentences longer than that."""
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        for part in _fit(sentence, max_chars):
            if current and len(current) + 1 + len(part) > max_chars:
                pieces.append(current)
                current = ""
            current = f"{current} {part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _fit(sentence: str, max_chars: int) -> list[str]:
    """Cut a sentence at clauses, then at spaces, then anywhere, until every part fits."""
    if len(sentence) <= max_chars:
        return [sentence]
    for splitter in (_CLAUSE_RE, _SPACE_RE):
        parts = [p for p in splitter.split(sentence) if p]
        if len(parts) > 1:
            out: list[str] = []
            for part in parts:
                out.extend(_fit(part, max_chars))
            return out
    return [sentence[i : i + max_chars] for i in range(0, len(sentence), max_chars)]


@dataclass(frozen=True)
class Pcm:
    """Raw PCM frames and their format, as read out of a WAV file."""

    frames: bytes
    channels: int
    sample_width: int  # bytes
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.frames) / (self.channels * self.sample_width * self.rate)


def read_wav(data: bytes) -> Pcm:
    """Parse a PCM WAV, trusting the bytes over the header's sizes.

    Streamed WAV (espeak-ng --stdout, hosted APIs) cannot seek back to fill in the sizes, so the
    RIFF and data sizes are placeholders (0x7ffff000, 0xffffffff); `wave` would believe them.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, fmt = 12, None
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if tag not in (1, 0xFFFE) or bits % 8:
                raise ValueError(f"unsupported WAV encoding (format {tag}, {bits} bits)")
            fmt = (channels, bits // 8, rate)
        elif chunk == b"data":
            if fmt is None:
                raise ValueError("WAV data before its format")
            channels, width, rate = fmt
            frames = data[body : body + min(size, len(data) - body)]
            whole = len(frames) - len(frames) % (channels * width)
            return Pcm(frames[:whole], channels, width, rate)
        pos = body + size + (size & 1)  # chunks are word-aligned
    raise ValueError("WAV file without a data chunk")


def join_wav(pieces: list[Pcm], *, default: tuple[int, int, int] = (1, 2, 22050)) -> Audio:
    """One WAV holding every piece's frames in order, with a correct header."""
    formats = {(p.channels, p.sample_width, p.rate) for p in pieces}
    if len(formats) > 1:
        raise ValueError(f"cannot join WAV pieces of different formats: {sorted(formats)}")
    channels, width, rate = formats.pop() if formats else default
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        for piece in pieces:
            w.writeframes(piece.frames)
    frames = sum(len(p.frames) for p in pieces) // (channels * width)
    return Audio(out.getvalue(), WAV, frames / rate)
