"""Audio: lessons read aloud, and any short text spoken."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from profai.api.deps import CtxDep
from profai.schemas.learning import SpeakIn
from profai.services import audio as audio_service

router = APIRouter(prefix="/api", tags=["audio"])


def _file(audio) -> FileResponse:
    return FileResponse(audio.path, media_type=audio.media_type,
                        headers={"X-Audio-Seconds": f"{audio.seconds:.2f}", "Cache-Control": "private, max-age=86400"})


@router.get("/courses/{course_id}/lessons/{lesson_id}/audio", response_class=FileResponse)
async def lesson_audio(ctx: CtxDep, course_id: int, lesson_id: int, language: str | None = None,
                       voice: str | None = None):
    """The lesson read aloud (WAV by default), made once and then served from the cache."""
    return _file(await run_in_threadpool(audio_service.lesson_audio, ctx, course_id, lesson_id, language, voice))


@router.post("/tts", response_class=FileResponse)
async def speak(ctx: CtxDep, body: SpeakIn):
    """Speak up to TTS_MAX_CHARS characters of text."""
    s = ctx.settings
    audio = await run_in_threadpool(audio_service.speak, ctx.speech, body.text, body.language or s.speech_language,
                                    body.voice or s.speech_voice, max_chars=s.tts_max_chars)
    return _file(audio)
