"""Chat with a course: one answer per request, or streamed over a WebSocket."""

from __future__ import annotations

import base64
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool

from profai.api.deps import CtxDep
from profai.errors import ProfAIError
from profai.providers.generator.base import ChatAnswer
from profai.schemas.learning import ChatIn, ChatOut
from profai.services import chat as chat_service
from profai.services.audio import spoken_text

router = APIRouter(tags=["chat"])
log = logging.getLogger(__name__)
_DONE = object()


def _out(prepared, answer: ChatAnswer) -> dict:
    return {"answer": answer.text, "sources": chat_service.sources(answer, prepared.passages),
            "session_id": prepared.session_id, "grounded": answer.grounded, "generator": answer.generator,
            "fallback": answer.fallback, "note": answer.note}


@router.post("/api/chat", response_model=ChatOut)
def chat(ctx: CtxDep, body: ChatIn):
    """Answer a question from the course, citing the passages used; pass session_id to follow up."""
    prepared, answer = chat_service.ask(ctx, body.course_id, body.question, body.session_id)
    return _out(prepared, answer)


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket):
    """Send {"course_id", "question", "session_id"?, "audio"?}; receive frames "session", "token"...,
    "sources", "audio" (if asked), "end". A bad message gets an "error" frame; the socket stays open."""
    ctx = websocket.app.state.ctx
    await websocket.accept()
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                await _answer(websocket, ctx, _parse(raw))
            except ProfAIError as exc:
                await websocket.send_json({"type": "error", "code": exc.code, "message": exc.message})
    except WebSocketDisconnect:
        return


def _parse(raw: str) -> dict:
    try:
        message = json.loads(raw)
    except ValueError:
        raise ProfAIError("The message is not valid JSON", code="invalid_json") from None
    if not isinstance(message, dict):
        raise ProfAIError('Send a JSON object like {"course_id": 1, "question": "..."}', code="invalid_message")
    if "course_id" not in message:
        raise ProfAIError("The message names no course: add course_id", code="missing_course_id")
    return message


def _audio_frame(ctx, answer: ChatAnswer, message: dict) -> dict:
    """The answer read aloud, as one frame (synthesis and the file read stay off the event loop)."""
    s = ctx.settings
    audio = ctx.speech.get_or_create(spoken_text(answer.text), message.get("language") or s.speech_language,
                                     message.get("voice") or s.speech_voice)
    return {"type": "audio", "media_type": audio.media_type, "seconds": audio.seconds,
            "data": base64.b64encode(audio.path.read_bytes()).decode()}


async def _answer(websocket: WebSocket, ctx, message: dict) -> None:
    prepared = await run_in_threadpool(chat_service.prepare, ctx, message.get("course_id"),
                                       message.get("question"), message.get("session_id"))
    await websocket.send_json({"type": "session", "session_id": prepared.session_id})
    pieces = chat_service.stream(ctx, prepared)
    answer = None
    while (piece := await run_in_threadpool(next, pieces, _DONE)) is not _DONE:
        if isinstance(piece, ChatAnswer):
            answer = piece
        else:
            await websocket.send_json({"type": "token", "text": piece})
    out = _out(prepared, answer)
    await websocket.send_json({"type": "sources", "sources": out["sources"]})
    if message.get("audio"):
        await websocket.send_json(await run_in_threadpool(_audio_frame, ctx, answer, message))
    await websocket.send_json({"type": "end", **{k: out[k] for k in ("answer", "grounded", "session_id",
                                                                       "generator", "fallback", "note")}})
