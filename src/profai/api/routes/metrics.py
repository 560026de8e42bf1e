"""GET /metrics: Prometheus' text format, for admins and for the scraper.

Who may read it: an admin (session, API key, or the server's API_KEY), or whoever sends
METRICS_TOKEN as a bearer token, which is how Prometheus authenticates a scrape
(`authorization: {credentials_file: ...}` in its scrape config) without holding an admin's key.
Anyone else gets 401 or 403: route names, job counts and error rates are the operator's business."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response

from profai.api.deps import CtxDep, credentials, identify
from profai.errors import Forbidden
from profai.observability import metrics as observed
from profai.services import monitoring

router = APIRouter(tags=["metrics"], include_in_schema=False)


async def metrics_reader(request: Request, ctx: CtxDep) -> None:
    """Pass the scraper's token or an admin; else 401 (no or bad credentials) or 403."""
    token = ctx.settings.metrics_token
    key, _ = credentials(request)
    if token and key and hmac.compare_digest(key.encode(), token.encode()):
        return
    who = await identify(request, ctx)
    if not who.is_admin:
        raise Forbidden("Only admins (or METRICS_TOKEN) can read the metrics", code="admin_only")


@router.get("/metrics", dependencies=[Depends(metrics_reader)])
def metrics(ctx: CtxDep) -> Response:
    """Every process's metrics on this host, and the job table's state."""
    return Response(monitoring.exposition(ctx), media_type=observed.CONTENT_TYPE)
