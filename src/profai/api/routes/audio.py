"""Audio: lessons read aloud, and any short text spoken."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from profai.api.deps import CtxDep, User
from profai.api.ids import CourseId, LessonId
from profai.schemas.learning import SpeakIn
from profai.services import audio as audio_service
from profai.stores.audio_cache import CachedAudio

router = APIRouter(prefix="/api", tags=["audio"])


def _file(audio: CachedAudio) -> FileResponse:
    return FileResponse(audio.path, media_type=audio.media_type,
                        headers={"X-Audio-Seconds": f"{audio.seconds:.2f}", "Cache-Control": "private, max-age=86400"})


@router.get("/courses/{course_id}/lessons/{lesson_id}/audio", response_class=FileResponse)
async def lesson_audio(ctx: CtxDep, who: User, course_id: CourseId, lesson_id: LessonId,
                       language: Annotated[str | None, Query(max_length=35)] = None,
                       voice: Annotated[str | None, Query(max_length=100)] = None) -> FileResponse:
    """The lesson read aloud (WAV by default), made once and then served from the cache."""
    return _file(await run_in_threadpool(audio_service.lesson_audio, ctx, who, course_id, lesson_id, language, voice))


@router.post("/tts", response_class=FileResponse)
async def speak(ctx: CtxDep, who: User, body: SpeakIn) -> FileResponse:
    """Speak up to TTS_MAX_CHARS characters of text."""
    s = ctx.settings
    audio = await run_in_threadpool(audio_service.speak, ctx.speech, body.text, body.language or s.speech_language,
                                    body.voice or s.speech_voice, max_chars=s.tts_max_chars)
    return _file(audio)
