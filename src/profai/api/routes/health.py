"""Liveness (/health) and readiness (/api/v1/health, which checks each dependency)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from profai import __version__
from profai.api.deps import CtxDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health():
    return {"status": "healthy", "version": __version__}


@router.get("/api/v1/health")
def readiness(ctx: CtxDep):
    checks: dict[str, str] = {}
    for name, probe in (("database", lambda: _db(ctx)), ("vectors", ctx.vectors.ping),
                        ("queue", lambda: ctx.runner.ping() if hasattr(ctx.runner, "ping") else None)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # report, do not raise: this endpoint exists to say what is down
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "healthy" if healthy else "unhealthy", "version": __version__,
            "runner": ctx.settings.job_runner, "checks": checks}
    return JSONResponse(body, status_code=200 if healthy else 503)


def _db(ctx) -> None:
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
