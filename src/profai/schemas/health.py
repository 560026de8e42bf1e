"""Health responses: liveness, and readiness with a word per dependency."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Readiness(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    runner: str = Field(description="JOB_RUNNER: where jobs run")
    checks: dict[str, Literal["ok", "error"]] = Field(
        description='Each dependency (database, vectors, queue): "ok", or "error" (the details are in the log)')


READINESS_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": Readiness, "description": "Every dependency answers"},
    503: {"model": Readiness, "description": "A dependency is down: `checks` says which"},
}
