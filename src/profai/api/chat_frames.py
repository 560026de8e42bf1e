"""What a chat WebSocket accepts: text frames of at most MAX_FRAME characters holding one flat
JSON object with known fields of the right types; and how many sockets a user may hold open."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.types import Message

from profai.domain import MAX_ID, Principal
from profai.errors import InvalidInput

MAX_FRAME = 16_384  # a 2,000-character question with room to spare
# Each field and the types it may have; anything else in a message is refused.
FIELDS: dict[str, tuple[type, ...]] = {
    "course_id": (int,), "question": (str,), "session_id": (str, type(None)), "audio": (bool,),
    "language": (str, type(None)), "voice": (str, type(None)), "lesson_id": (int, type(None)),
}
STOP = {"type": "stop"}  # the one control message: stop the answer being streamed
MAX_TEXT = {"session_id": 64, "language": 35, "voice": 100}


def parse_message(frame: Message) -> dict[str, Any]:
    """The message of one received frame, checked; InvalidInput (an error frame) otherwise."""
    text = frame.get("text")
    if text is None:
        raise InvalidInput("Send messages as text frames holding JSON", code="binary_not_supported")
    if len(text) > MAX_FRAME:
        raise InvalidInput(f"A message may have at most {MAX_FRAME} characters", code="message_too_large")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise InvalidInput("The message is not valid JSON", code="invalid_json") from None
    if not isinstance(message, dict):
        raise InvalidInput('Send a JSON object like {"course_id": 1, "question": "..."}', code="invalid_message")
    if "course_id" not in message:
        raise InvalidInput("The message names no course: add course_id", code="missing_course_id")
    for key, value in message.items():
        types = FIELDS.get(key)
        if types is None:
            raise InvalidInput(f"Unknown field {key[:40]!r}; use {', '.join(FIELDS)}", code="unknown_field")
        if not isinstance(value, types) or (types == (int,) and isinstance(value, bool)):
            raise InvalidInput(f"{key} has the wrong type", code="invalid_field")
        if isinstance(value, str) and key in MAX_TEXT and len(value) > MAX_TEXT[key]:
            raise InvalidInput(f"{key} is longer than {MAX_TEXT[key]} characters", code="invalid_field")
        if isinstance(value, str) and "\x00" in value:  # no text we keep may hold a NUL
            raise InvalidInput(f"{key} contains a NUL character", code="invalid_field")
    if not 0 < message["course_id"] <= MAX_ID:
        raise InvalidInput("course_id must be a course's number", code="invalid_field")
    if message.get("lesson_id") is not None and not 0 < message["lesson_id"] <= MAX_ID:
        raise InvalidInput("lesson_id must be a lesson's number", code="invalid_field")
    return message


def is_stop(frame: Message) -> bool:
    """Whether the frame is the stop message (checked before parse_message, which it would fail)."""
    text = frame.get("text")
    if text is None or len(text) > 64:
        return False
    try:
        return bool(json.loads(text) == STOP)
    except ValueError:
        return False


class SocketCounts:
    """Open chat sockets per user in this process (each API process keeps its own count)."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, who: Principal, limit: int) -> Iterator[bool]:
        key = f"{who.via}:{who.user_id}" if who.user_id is None else str(who.user_id)
        with self._lock:
            admitted = self._open.get(key, 0) < limit
            if admitted:
                self._open[key] = self._open.get(key, 0) + 1
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self._open[key] -= 1
                    if not self._open[key]:
                        del self._open[key]


SOCKETS = SocketCounts()
