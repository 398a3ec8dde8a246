"""What every page shares: rendering a template with no-store, and a per-address rate limit that a middleware
applies to every page marked `limited`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from bot.engine.services import Services
from bot.ops.config import LimitSettings
from bot.ops.templates import LANGUAGES, Templates, language_from_header
from storage import RedisError

HTML = "text/html"


def viewer_language(request: web.Request) -> str:
    """The page's language: the link's own (`lang=`, set in links sent to a user who chose one), else the
    viewer's browser's (Accept-Language): a guard reads the page in their language, not the holder's."""
    chosen = request.query.get("lang", "")
    return chosen if chosen in LANGUAGES else language_from_header(request.headers.get("Accept-Language"))


def viewer_texts(services: Services, request: web.Request) -> Templates:
    return services.texts.of(viewer_language(request))


def page(services: Services, request: web.Request, template: str, status: int = 200,
         **values: object) -> web.Response:
    """A page that no cache may keep: what it shows is true at this moment only; in the viewer's language."""
    lang = viewer_language(request)
    return web.Response(text=services.texts.of(lang).render(template, **values), status=status, content_type=HTML,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                 "Content-Language": lang, "Vary": "Accept-Language"})


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


def too_many(services: Services, request: web.Request) -> web.Response:
    return page(services, request, "pages/too_many.html", status=429)


PageHandler = TypeVar("PageHandler", bound=Callable[..., Awaitable[web.StreamResponse]])
_LIMIT = "healthbot_page_limit"


def limited(purpose: str, per_minute: Callable[[LimitSettings], int]) -> Callable[[PageHandler], PageHandler]:
    """Marks a page: each client address may request it `per_minute` times a minute (`[limits]`), counted
    under `purpose`. The pages' middleware (`page_limits`) enforces it before the page runs."""
    def mark(handler: PageHandler) -> PageHandler:
        setattr(handler, _LIMIT, (purpose, per_minute))
        return handler

    return mark


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def page_limits(services: Services) -> Any:
    """The pages' middleware (aiohttp's shape): a page marked `limited` that is over its limit answers 429, in
    JSON when JSON was asked for. It wraps the pages' routes only (`PageRoutes`), not the whole app: an
    app-wide middleware puts a cache lookup and a coroutine on every push to /wechat (docs/performance.md)."""
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        limit = getattr(handler, _LIMIT, None)
        if limit is None or await within_limit(services, request, limit[0], limit[1](services.settings.limits)):
            return await handler(request)
        if wants_json(request):
            return web.json_response({"state": "too_many_requests"}, status=429)
        return too_many(services, request)

    return middleware


class PageRoutes:
    """Adds a page's routes with the pages' middleware around each."""

    def __init__(self, app: web.Application, services: Services) -> None:
        self.router, self.middleware = app.router, page_limits(services)

    def _wrapped(self, handler: Handler) -> Handler:
        middleware = self.middleware

        async def page(request: web.Request) -> web.StreamResponse:
            return await middleware(request, handler)

        return page

    def get(self, path: str, handler: Handler) -> None:
        self.router.add_get(path, self._wrapped(handler))

    def post(self, path: str, handler: Handler) -> None:
        self.router.add_post(path, self._wrapped(handler))


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or request.query.get("format") == "json"
