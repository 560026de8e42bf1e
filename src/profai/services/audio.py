"""Lesson and answer audio: validate the text, synthesise it once, serve the file from disk after;
the least recently used files go when the cache outgrows its budget."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.errors import InvalidInput, NotFound
from profai.providers.generator.base import MARKER_RE
from profai.providers.speech import MP3, Speech

_EXTENSIONS = {MP3: ".mp3"}  # anything else is WAV
# Threads asking for the same text wait on one lock instead of synthesising twice; striping keeps
# the lock table fixed-size however many texts there are.
_STRIPES = 64
# An entry used this recently is never evicted: a response may still be sending its file.
_IN_USE_SECONDS = 300


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
            _write_atomic(path, audio.data)
            meta = {"file": path.name, "media_type": audio.media_type, "seconds": audio.seconds}
            _write_atomic(record, json.dumps(meta).encode())
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
        sizes, used = {}, {}
        for record, files in entries.items():
            try:
                sizes[record] = sum(f.stat().st_size for f in files)
                used[record] = record.stat().st_mtime
            except OSError:  # removed meanwhile, or audio whose record is not written yet
                continue
        total = sum(sizes.values())
        recent = time.time() - _IN_USE_SECONDS
        for record in sorted(used, key=used.get):
            if total <= self.max_bytes or used[record] > recent:
                break
            for f in sorted(entries[record], key=lambda f: f != record):  # the record first: then a miss
                f.unlink(missing_ok=True)
            total -= sizes[record]


def speak(cache: AudioCache, text: str, language: str, voice: str | None = None, *, max_chars: int) -> CachedAudio:
    """Validated text to a cached audio file.

    Over-long text is InvalidInput (422, "text_too_long") rather than PayloadTooLarge (413): the
    request itself is small, it is one field's value that breaks a rule, like every other 422 here.
    """
    text = text.strip() if text else ""
    if not text:
        raise InvalidInput("There is no text to speak", code="empty_text")
    if len(text) > max_chars:
        raise InvalidInput(f"The text is {len(text):,} characters; at most {max_chars:,} can be spoken at once",
                           code="text_too_long")
    return cache.get_or_create(text, language, voice)


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
    try:
        os.utime(record)
    except OSError:
        pass  # evicted this instant: the caller still has the file's name, and most likely the file
    return CachedAudio(path, meta["media_type"], meta["seconds"])


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, then rename over `path` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def lesson_audio(ctx, course_id: int, lesson_id: int, language: str | None = None,
                 voice: str | None = None) -> CachedAudio:
    """A lesson read aloud (title, then its text), made on the first request and cached."""
    with session_scope(ctx.sessions) as session:
        lesson = courses_repo.get_lesson(session, course_id, lesson_id)
        if lesson is None:
            if not courses_repo.collection_of(session, course_id)[0]:
                raise NotFound(f"Course {course_id} not found", code="course_not_found")
            raise NotFound(f"Lesson {lesson_id} not found in course {course_id}", code="lesson_not_found")
        text = f"{lesson.title}.\n\n{lesson.content}"
    s = ctx.settings
    return ctx.speech.get_or_create(text, language or s.speech_language, voice or s.speech_voice)


def spoken_text(answer: str) -> str:
    """An answer as it should be read: without its [n] citation markers."""
    return MARKER_RE.sub("", answer).strip()
