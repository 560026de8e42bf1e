"""Server-sent events: an open stream per browser tab, its slot among a bounded number, and its end.

A stream ends when its client goes away (the server's http.disconnect, watched beside the
writing: uvicorn's send() does not fail once the client has gone, it drops what is sent), and
when the server shuts down: uvicorn waits for open responses to finish before it stops, so an
endless response would hold a graceful shutdown for ever. serving.py's server calls
`STREAMS.close_all()` as its shutdown begins, and every stream sends its last bytes and ends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from profai.domain import Principal
from profai.errors import ServiceUnavailable, TooManyRequests

# Told to every client first: how long EventSource waits before it connects again (ms).
RETRY_MS = 3000


def frame(event: str, data: str) -> bytes:
    """One event; `data` is JSON, which holds no raw newline, so it is one data line."""
    return f"event: {event}\ndata: {data}\n\n".encode()


HEARTBEAT = b": keep-alive\n\n"  # a comment line: keeps proxies and the browser from timing out


class Streams:
    """Open streams per user and in all, in this process (each API process counts its own, as
    chat sockets do), and the events that end them at shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_user: dict[str, int] = {}
        self._closing: set[asyncio.Event] = set()
        self.total = 0
        self.shutting_down = False

    def admit(self, who: Principal, per_user: int, total: int) -> str:
        """Take a slot for `who`, or refuse: 429 past their own limit, 503 past the server's."""
        key = _user_key(who)
        with self._lock:
            if self.shutting_down:
                raise ServiceUnavailable("The server is restarting; connect again in a moment",
                                         code="shutting_down")
            if self._per_user.get(key, 0) >= per_user:
                raise TooManyRequests(f"At most {per_user} live feeds at once (one per open tab); close one",
                                      code="too_many_streams", retry_after=30)
            if self.total >= total:
                raise ServiceUnavailable("This server has as many live feeds open as it takes; try again later",
                                         code="streams_full")
            self._per_user[key] = self._per_user.get(key, 0) + 1
            self.total += 1
        return key

    def release(self, key: str) -> None:
        with self._lock:
            self.total -= 1
            self._per_user[key] -= 1
            if not self._per_user[key]:
                del self._per_user[key]

    def watch(self, closing: asyncio.Event) -> None:
        """Set `closing` when the server shuts down (at once if it already is)."""
        self._closing.add(closing)
        if self.shutting_down:
            closing.set()

    def unwatch(self, closing: asyncio.Event) -> None:
        self._closing.discard(closing)

    def close_all(self) -> None:
        """End every open stream (the server is shutting down); call it on their event loop."""
        self.shutting_down = True
        for event in list(self._closing):
            event.set()


def _user_key(who: Principal) -> str:
    # The API_KEY admin and the CLI have no user id: they count as one user each.
    return str(who.user_id) if who.user_id is not None else f"{who.via}:{who.role}"


STREAMS = Streams()


class EventStream(Response):
    """A text/event-stream response. `events(closing)` yields the bytes to send; `closing` is set
    when the server shuts down, and the stream ends with the generator. The slot `key` is given
    back however the stream ends."""

    media_type = "text/event-stream"

    def __init__(self, events: Callable[[asyncio.Event], AsyncIterator[bytes]], key: str) -> None:
        # Not Response.__init__: with no body there is no Content-Length (the stream has no end).
        self.status_code, self.background = 200, None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.events, self.key = events, key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        closing = asyncio.Event()
        STREAMS.watch(closing)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tg.cancel_scope.cancel()  # the client went away: stop writing to nobody

                tg.start_soon(watch)
                await send({"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode(),
                            "more_body": True})
                async for chunk in self.events(closing):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                tg.cancel_scope.cancel()
        except OSError:  # the connection broke under a send
            pass
        finally:
            STREAMS.unwatch(closing)
            STREAMS.release(self.key)


async def wait_for(event: asyncio.Event, seconds: float) -> bool:
    """Whether `event` was set within `seconds`."""
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        return False
    return True


def describe() -> dict[int | str, dict[str, Any]]:
    """For the OpenAPI document: what the stream carries."""
    return {200: {"description": "An endless text/event-stream", "content": {"text/event-stream": {
        "schema": {"type": "string"}}}}}
