"""create_app(): wires the Container once and mounts the routes."""

from __future__ import annotations

import gc
import logging
import threading
from contextlib import asynccontextmanager

from fastapi import FastAPI

from profai import __version__
from profai.api import errors
from profai.api.routes import audio, chat, courses, datasets, health, jobs, quizzes, web
from profai.settings import Settings, get_settings
from profai.wiring import Container, build_container

log = logging.getLogger(__name__)


def _warm_up(vectors) -> None:
    try:
        vectors.ping()
    except Exception as exc:  # the readiness check and the first real call report it properly
        log.warning("vector store not reachable at start-up: %s", exc)


def create_app(settings: Settings | None = None, ctx: Container | None = None, *, runner: str | None = None) -> FastAPI:
    """The ASGI app; pass `ctx` to share an already-built Container (tests, CLI), or `runner` to
    override JOB_RUNNER in the one it builds (see wiring.build_container)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = ctx is None
        app.state.ctx = ctx or build_container(settings or get_settings(), runner=runner)
        if app.state.ctx.runner is not None:
            app.state.ctx.runner.start()
        # Open the vector store now, beside start-up, rather than in the middle of the first job
        # or chat (embedded Chroma's own process takes about a second of CPU to start).
        threading.Thread(target=_warm_up, args=(app.state.ctx.vectors,), name="vectors-warm-up", daemon=True).start()
        # Everything built so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise walk the whole heap and stall every request in flight.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if own:
                app.state.ctx.close()

    app = FastAPI(title="ProfAI", version=__version__, lifespan=lifespan,
                  description="Turns teaching material into courses.")
    errors.install(app)
    for module in (health, courses, jobs, datasets, chat, quizzes, audio, web):
        app.include_router(module.router)
    return app
