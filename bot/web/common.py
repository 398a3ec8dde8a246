"""What every page shares: rendering a template with no-store, and a per-address rate limit."""

from __future__ import annotations

import time

from aiohttp import web

from bot.engine.services import Services
from storage import RedisError

HTML = "text/html"


def page(services: Services, template: str, status: int = 200, **values: object) -> web.Response:
    """A page that no cache may keep: what it shows is true at this moment only."""
    return web.Response(text=services.templates.render(template, **values), status=status, content_type=HTML,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def within_limit(services: Services, request: web.Request, purpose: str, per_minute: int) -> bool:
    """Whether this client address may have another `purpose` request now. When Redis cannot tell, yes: the
    page itself will say that it cannot answer, and a checkpoint must not be locked out by our outage."""
    key = services.keys.client_bucket(client_address(services, request), purpose)
    try:
        return await services.limiter.allow(key, per_minute, per_minute / 60, time.time())
    except RedisError:
        return True


def client_address(services: Services, request: web.Request) -> str:
    """Who is asking: behind our own reverse proxy (`[server] behind_proxy`), the address it saw; the last
    X-Forwarded-For entry is the one it appended, so a client cannot choose it."""
    if services.settings.server.behind_proxy and request.remote in ("127.0.0.1", "::1"):
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded[:64]
    return request.remote or "unknown"


def too_many(services: Services) -> web.Response:
    return page(services, "pages/too_many.html", status=429)
