"""Lesson and answer audio: validate the text, then take it from the audio cache (which
synthesises it on first use)."""

from __future__ import annotations

import re
from typing import Any, Protocol

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.domain import LIST_BULLETS, Principal
from profai.errors import InvalidInput, NotFound
from profai.providers.generator.base import MARKER_RE
from profai.services import access
from profai.services.deps import HasSessions, HasSettings, HasSpeech
from profai.stores.audio_cache import AudioCache, CachedAudio


class AudioDeps(HasSettings, HasSessions, HasSpeech, Protocol):
    """What this service uses of the wiring."""


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


def lesson_audio(ctx: AudioDeps, who: Principal, course_id: int, lesson_id: int, language: str | None = None,
                 voice: str | None = None) -> CachedAudio:
    """A lesson read aloud (title, then its text), made on the first request and cached."""
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id)
        lesson = courses_repo.get_lesson(session, course_id, lesson_id)
        if lesson is None:
            raise NotFound(f"Lesson {lesson_id} not found in course {course_id}", code="lesson_not_found")
        text = lesson_script(lesson.title, lesson.content, lesson.blocks)
    s = ctx.settings
    return ctx.speech.get_or_create(text, language or s.speech_language, voice or s.speech_voice)


_BULLET_RE = re.compile(rf"^[{re.escape(LIST_BULLETS)}]\s+")


def lesson_script(title: str, content: str, blocks: list[Any]) -> str:
    """What a lesson sounds like: its title, then its text, with each code listing announced rather
    than spelled out symbol by symbol (the reader sees it on the page), a list's items read as
    sentences and a quotation announced as one."""
    if not blocks:
        return f"{title}.\n\n{content}"
    parts = [f"{title}."]
    for block in blocks:
        kind, text = block["kind"], block["text"]
        if kind == "code":
            lines = text.count("\n") + 1
            parts.append(f"A code example of {lines} line{'s' if lines > 1 else ''} follows in the lesson text.")
        elif kind == "list":
            parts += [_BULLET_RE.sub("", item).rstrip(".;,") + "." for item in text.split("\n")]
        elif kind == "heading":
            parts.append(f"{text.rstrip('.')}.")
        elif kind == "quote":
            parts.append(f"Quote: {text} End of quote.")
        else:
            parts.append(text)
    return "\n\n".join(parts)


def spoken_text(answer: str) -> str:
    """An answer as it should be read: without its [n] citation markers."""
    return MARKER_RE.sub("", answer).strip()
