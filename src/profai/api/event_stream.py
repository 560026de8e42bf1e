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
from contextlib import ExitStack
from typing import Any

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from profai.api.chat_frames import SocketCounts
from profai.domain import Principal
from profai.errors import ServiceUnavailable, TooManyRequests

# Told to every client first: how long EventSource waits before it connects again (ms).
RETRY_MS = 3000


def frame(event: str, data: str) -> bytes:
    """One event; `data` is JSON, which holds no raw newline, so it is one data line."""
    return f"event: {event}\ndata: {data}\n\n".encode()


HEARTBEAT = b": keep-alive\n\n"  # a comment line: keeps proxies and the browser from timing out


class Streams:
    """Open streams per user (counted as chat sockets are, each API process its own) and in all,
    in this process, and the events that end them at shutdown."""

    def __init__(self) -> None:
        self._per_user = SocketCounts()
        self._lock = threading.Lock()
        self._closing: set[asyncio.Event] = set()
        self.total = 0
        self.shutting_down = False

    def admit(self, who: Principal, per_user: int, total: int) -> ExitStack:
        """A slot for `who`, given back when the returned stack closes; or a refusal: 429 past
        their own limit, 503 past the server's."""
        if self.shutting_down:
            raise ServiceUnavailable("The server is restarting; connect again in a moment", code="shutting_down")
        slot = ExitStack()
        if not slot.enter_context(self._per_user.hold(who, per_user)):
            slot.close()
            raise TooManyRequests(f"At most {per_user} live feeds at once (one per open tab); close one",
                                  code="too_many_streams", retry_after=30)
        with self._lock:
            full = self.total >= total
            if not full:
                self.total += 1
                slot.callback(self._release)
        if full:
            slot.close()
            raise ServiceUnavailable("This server has as many live feeds open as it takes; try again later",
                                     code="streams_full")
        return slot

    def _release(self) -> None:
        with self._lock:
            self.total -= 1

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


STREAMS = Streams()


class EventStream(Response):
    """A text/event-stream response. `events(closing)` yields the bytes to send; `closing` is set
    when the server shuts down, and the stream ends with the generator. The `slot` (from
    Streams.admit) is given back however the stream ends."""

    media_type = "text/event-stream"

    def __init__(self, events: Callable[[asyncio.Event], AsyncIterator[bytes]], slot: ExitStack) -> None:
        # Not Response.__init__: with no body there is no Content-Length (the stream has no end).
        self.status_code, self.background = 200, None
        self.init_headers({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.events, self.slot = events, slot

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
            self.slot.close()


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
