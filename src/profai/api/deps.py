"""FastAPI dependencies: the Container, typed for handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from profai.wiring import Container


async def get_ctx(request: Request) -> Container:
    # async: a plain function would cost every request a hop to the thread pool
    return request.app.state.ctx


CtxDep = Annotated[Container, Depends(get_ctx)]
