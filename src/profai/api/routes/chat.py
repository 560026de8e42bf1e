"""Chat with a course: one answer per request, or streamed over a WebSocket."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from starlette.types import Message

from profai.api.chat_frames import SOCKETS, is_stop, parse_message
from profai.api.deps import CtxDep, User, identify
from profai.api.errors import responses
from profai.api.limits import TokenBucket
from profai.domain import ChatAnswer, Principal
from profai.errors import ProfAIError, TooManyRequests
from profai.schemas.learning import ChatIn, ChatOut
from profai.services import chat as chat_service
from profai.services.audio import spoken_text
from profai.services.chat import Prepared
from profai.wiring import Container

router = APIRouter(tags=["chat"])
log = logging.getLogger(__name__)
_DONE = object()


def _out(prepared: Prepared, answer: ChatAnswer) -> dict[str, Any]:
    return {"answer": answer.text, "sources": chat_service.sources(answer, prepared),
            "session_id": prepared.session_id, "grounded": answer.grounded, "generator": answer.generator,
            "fallback": answer.fallback, "note": answer.note}


@router.post("/api/chat", response_model=ChatOut, responses=responses(404, 409))
def chat(ctx: CtxDep, who: User, body: ChatIn) -> dict[str, Any]:
    """Answer a question from the course, citing the passages used; pass session_id to follow up."""
    prepared, answer = chat_service.ask(ctx, who, body.course_id, body.question, body.session_id, body.lesson_id)
    return _out(prepared, answer)


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    """Send {"course_id", "question", "session_id"?, "lesson_id"?, "audio"?, "language"?, "voice"?};
    receive frames "session", "token"..., "sources", "audio" (if asked), "end". {"type": "stop"}
    while an answer streams ends it early: a "stopped" frame, and the answer so far is kept (as it
    is when the client goes away mid-answer). Who is asking is settled
    before the socket is accepted (the session cookie or an API key header; RequestGuard has
    checked the Origin). Every frame is checked: a bad one gets an "error" frame and the socket
    stays open."""
    ctx: Container = websocket.app.state.ctx
    try:
        who = await identify(websocket, ctx)
    except ProfAIError:
        await websocket.close(code=1008)  # before accept: the handshake is answered 403
        return
    await websocket.accept()
    with SOCKETS.hold(who, ctx.settings.max_chat_sockets) as admitted:
        if not admitted:
            await _error(websocket, "too_many_sockets",
                         f"At most {ctx.settings.max_chat_sockets} chat connections at once")
            await websocket.close(code=1008)
            return
        await _serve(websocket, ctx, who)


class _Inbox:
    """The socket's frames, read by a task of their own so that a stop, or the client going away,
    is noticed while an answer streams; questions wait in a short queue (a client that floods it
    waits on the socket instead)."""

    def __init__(self, websocket: WebSocket, size: int = 16) -> None:
        self.websocket = websocket
        self.frames: asyncio.Queue[Message] = asyncio.Queue(maxsize=size)
        self.stopped = False  # the answer under way should end
        self.gone = False  # the client closed the socket

    async def read(self) -> None:
        try:
            while True:
                frame = await self.websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                if is_stop(frame):
                    self.stopped = True  # for the answer under way; none: nothing to stop
                    continue
                await self.frames.put(frame)
        except (WebSocketDisconnect, RuntimeError):  # receive after the socket closed
            pass
        self.gone = self.stopped = True
        with contextlib.suppress(asyncio.QueueFull):
            self.frames.put_nowait({"type": "websocket.disconnect"})

    async def send(self, frame: dict[str, Any]) -> None:
        """Send unless the client left; a send that finds it gone marks it so."""
        if self.gone:
            return
        try:
            await self.websocket.send_json(frame)
        except (WebSocketDisconnect, RuntimeError):
            self.gone = self.stopped = True


async def _serve(websocket: WebSocket, ctx: Container, who: Principal) -> None:
    s = ctx.settings
    bucket = TokenBucket(s.ws_messages_per_second, s.ws_message_burst)
    inbox = _Inbox(websocket)
    reader = asyncio.create_task(inbox.read())
    try:
        while not inbox.gone:
            frame = await inbox.frames.get()
            if frame["type"] == "websocket.disconnect":
                return
            try:
                wait = bucket.take()
                if wait:
                    raise TooManyRequests(f"Too many messages: wait {wait:.1f} s", code="rate_limited",
                                          retry_after=wait)
                await _answer(inbox, ctx, who, parse_message(frame))
            except ProfAIError as exc:
                await inbox.send({"type": "error", "code": exc.code, "message": exc.message})
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _error(websocket: WebSocket, code: str, message: str) -> None:
    await websocket.send_json({"type": "error", "code": code, "message": message})


def _audio_frame(ctx: Container, answer: ChatAnswer, message: dict[str, Any]) -> dict[str, Any]:
    """The answer read aloud, as one frame (synthesis and the file read stay off the event loop)."""
    s = ctx.settings
    audio = ctx.speech.get_or_create(spoken_text(answer.text), message.get("language") or s.speech_language,
                                     message.get("voice") or s.speech_voice)
    return {"type": "audio", "media_type": audio.media_type, "seconds": audio.seconds,
            "data": base64.b64encode(audio.path.read_bytes()).decode()}


async def _answer(inbox: _Inbox, ctx: Container, who: Principal, message: dict[str, Any]) -> None:
    inbox.stopped = inbox.gone  # a stop sent before this question is not for it
    prepared = await run_in_threadpool(chat_service.prepare, ctx, who, message.get("course_id"),
                                       message.get("question"), message.get("session_id"),
                                       message.get("lesson_id"))
    await inbox.send({"type": "session", "session_id": prepared.session_id})
    pieces = chat_service.stream(ctx, prepared)
    answer = None
    said: list[str] = []
    # Once the ChatAnswer is out a stop comes too late: the stream runs on, to save the exchange.
    while answer is not None or not inbox.stopped:
        piece = await run_in_threadpool(next, pieces, _DONE)
        if piece is _DONE:
            break
        if isinstance(piece, ChatAnswer):
            answer = piece
        else:
            said.append(str(piece))
            await inbox.send({"type": "token", "text": piece})
    if answer is None:  # stopped: end the generator (a hosted model's response is closed) and keep what was said
        await run_in_threadpool(pieces.close)
        partial = "".join(said).strip()
        await run_in_threadpool(chat_service.save, ctx, prepared, partial, [])
        await inbox.send({"type": "stopped", "session_id": prepared.session_id, "answer": partial})
        return
    out = _out(prepared, answer)
    await inbox.send({"type": "sources", "sources": out["sources"]})
    if message.get("audio") and not inbox.gone:
        await inbox.send(await run_in_threadpool(_audio_frame, ctx, answer, message))
    await inbox.send({"type": "end", **{k: out[k] for k in ("answer", "grounded", "session_id",
                                                              "generator", "fallback", "note")}})
