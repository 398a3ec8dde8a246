"""What every page shares: rendering a template with no-store, and a per-address rate limit."""

from __future__ import annotations

import time

from aiohttp import web
from redis.exceptions import RedisError

from bot.engine.services import Services

HTML = "text/html"


def page(services: Services, template: str, status: int = 200, **values: object) -> web.Response:
    """A page that no cache may keep: what it shows is true at this moment only."""
    return web.Response(text=services.templates.render(template, **values), status=status, content_type=HTML,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def within_limit(services: Services, request: web.Request, purpose: str, per_minute: int) -> bool:
    """Whether this client address may have another `purpose` request now. When Redis cannot tell, yes: the
    page itself will say that it cannot answer, and a checkpoint must not be locked out by our outage."""
    key = services.keys.client_bucket(request.remote or "unknown", purpose)
    try:
        return await services.limiter.allow(key, per_minute, per_minute / 60, time.time())
    except RedisError:
        return True


def too_many(services: Services) -> web.Response:
    return page(services, "pages/too_many.html", status=429)
