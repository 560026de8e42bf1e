"""Synthesised audio on disk: each text is synthesised once and served from the file after;
the least recently used files go when the cache outgrows its budget."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import NamedTuple, Protocol

from profai.stores import lru
from profai.stores.files import write_atomic

_EXTENSIONS = {"audio/mpeg": ".mp3"}  # anything else is WAV


class Audio(Protocol):
    @property
    def data(self) -> bytes: ...

    @property
    def media_type(self) -> str: ...

    @property
    def seconds(self) -> float: ...


class Speech(Protocol):
    """What the cache needs of a speech backend (providers.speech.Speech is one)."""

    @property
    def name(self) -> str: ...

    @property
    def rate_wpm(self) -> int: ...

    def synthesize(self, text: str, language: str, voice: str | None) -> Audio: ...

    def resolve_voice(self, language: str, voice: str | None) -> str: ...
# Threads asking for the same text wait on one lock instead of synthesising twice; striping keeps
# the lock table fixed-size however many texts there are.
_STRIPES = 64


class CachedAudio(NamedTuple):
    path: Path
    media_type: str
    seconds: float


class AudioCache:
    """Synthesised audio on disk under `directory` (normally `<data_dir>/audio/`), one file per input.

    A file is keyed by sha256 of (backend, language, voice, rate, text). Each entry is an audio
    file plus a small JSON record written after it; the record is the commit marker, and both are
    written to a temp file then renamed, so a reader in any thread or process sees a whole entry
    or none. A record's modification time says when the entry was last used: past `max_bytes`
    (None: no limit) the least recently used entries are removed, record first.
    """

    def __init__(self, speech: Speech, directory: Path, max_bytes: int | None = None) -> None:
        self.speech = speech
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._locks = [threading.Lock() for _ in range(_STRIPES)]

    def key(self, text: str, language: str, voice: str) -> str:
        """The entry's name: a hash of everything that changes the audio."""
        parts = [self.speech.name, language, voice, self.speech.rate_wpm, text]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()

    def get_or_create(self, text: str, language: str, voice: str | None = None) -> CachedAudio:
        """The audio for `text`, synthesised on the first request only."""
        # The concrete voice goes into the key, so voice=None and its explicit name share one file.
        resolved = self.speech.resolve_voice(language, voice)
        key = self.key(text, language, resolved)
        record = self.directory / key[:2] / f"{key}.json"
        if (hit := _load(record)) is not None:
            return hit
        with self._locks[int(key[:8], 16) % _STRIPES]:
            if (hit := _load(record)) is not None:
                return hit
            audio = self.speech.synthesize(text, language, resolved)
            path = record.with_suffix(_EXTENSIONS.get(audio.media_type, ".wav"))
            write_atomic(path, audio.data)
            meta = {"file": path.name, "media_type": audio.media_type, "seconds": audio.seconds}
            write_atomic(record, json.dumps(meta).encode())
        self.evict()
        return CachedAudio(path, audio.media_type, audio.seconds)

    def evict(self) -> None:
        """Remove least recently used entries until the cache fits its budget. Files are grouped by
        their key (the record and its audio); temp files of writes in progress are left alone."""
        if self.max_bytes is None:
            return
        entries: dict[Path, list[Path]] = {}
        for path in self.directory.glob("*/*"):
            if not path.name.startswith("."):
                entries.setdefault(path.with_suffix(".json"), []).append(path)
        lru.evict(entries, self.max_bytes)


def _load(record: Path) -> CachedAudio | None:
    """The entry, marked as just used; None when there is none."""
    try:
        meta = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    path = record.with_name(meta["file"])
    # A record whose audio was deleted by hand is a miss, not an error.
    if not path.exists():
        return None
    lru.touch(record)  # evicted this instant? The caller still has the file's name, and most likely the file
    return CachedAudio(path, meta["media_type"], meta["seconds"])
