"""Liveness (/health) and readiness (/api/v1/health, which checks each dependency)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from profai import __version__
from profai.api.deps import CtxDep
from profai.schemas.health import READINESS_RESPONSES
from profai.wiring import Container

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "healthy", "version": __version__}


@router.get("/api/v1/health", responses=READINESS_RESPONSES)
def readiness(ctx: CtxDep) -> JSONResponse:
    checks: dict[str, str] = {}
    for name, probe in (("database", lambda: _db(ctx)), ("vectors", ctx.vectors.ping),
                        ("queue", lambda: ctx.runner.ping() if ctx.runner is not None else None)):
        try:
            probe()
            checks[name] = "ok"
        except Exception:  # report, do not raise: this endpoint exists to say what is down
            # The details go to the log: a public endpoint never carries a library's message.
            log.warning("readiness: %s is down", name, exc_info=True)
            checks[name] = "error"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "healthy" if healthy else "unhealthy", "version": __version__,
            "runner": ctx.settings.job_runner, "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


def _db(ctx: Container) -> None:
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
