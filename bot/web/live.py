"""News mode's live code (`[render] reply_as = "news"`): the page and its picture behind a signed link.

The colour is read again on every load, and a clock ticks on the page. Each link and each client address has
a request limit, and a link's picture is rendered once per colour, not per request.
"""

from __future__ import annotations

from aiohttp import web
from cachetools import TTLCache

from bot.domain.clock import to_second
from bot.domain.masking import mask_name
from bot.domain.tokens import TokenExpired, TokenInvalid
from bot.engine.services import Services
from bot.ops.templates import Templates
from bot.upstreams.status import HealthStatus
from bot.usecases.cards import VIEW, build_card, proxy_line, reason_line
from bot.usecases.holders import Holder, find_holder, holder_facts, status_now
from bot.web.common import PageRoutes, limited, page, too_many, viewer_language, viewer_texts, within_limit
from storage import RedisError

PICTURES = 1024  # rendered pictures kept, ~20 KB each


class LivePages:
    def __init__(self, services: Services) -> None:
        self.services = services
        ttl = services.settings.render.view_link_minutes * 60
        self.pictures: TTLCache[tuple[str, str, str, str, float], bytes] = TTLCache(PICTURES, ttl,
                                                                                   timer=services.clock.time)

    async def _viewed(self, request: web.Request) -> tuple[str, str, Holder, HealthStatus | None] | web.Response:
        """(link nonce, title, holder, status now) behind a live-code link, or the page saying why not.
        The status is None when the status provider cannot confirm it."""
        services, limits = self.services, self.services.settings.limits
        try:
            payload = services.signer.verify(VIEW, request.query.get("t", ""), services.clock.time())
        except (TokenInvalid, TokenExpired):
            return page(services, request, "pages/code_expired.html", status=403)
        nonce = str(payload.get("n", ""))
        if not await within_limit(services, request, f"link:{nonce}", limits.live_per_link_per_minute):
            return too_many(services, request)
        try:
            stored = await services.codes.views.get(nonce)
            openid, doc_index, title = stored or ("", "", "")
            holder = await find_holder(services, openid, doc_index) if stored else None
        except RedisError:
            return page(services, request, "pages/busy.html", status=503)
        if holder is None:
            return page(services, request, "pages/code_expired.html", status=410 if stored else 403)
        return nonce, title, holder, await status_now(services, doc_index, holder)

    @limited("live", lambda limits: limits.live_per_minute)
    async def live_code(self, request: web.Request) -> web.Response:
        viewed = await self._viewed(request)
        if isinstance(viewed, web.Response):
            return viewed
        _, title, holder, status = viewed
        texts = viewer_texts(self.services, request)
        return page(self.services, request, "pages/code.html", title=title, subtitle=self._subtitle(texts, holder),
                    name=mask_name(holder.person.name), colour=status.colour if status else "",
                    reason=reason_line(texts, status) if status else "", token=request.query["t"],
                    checked=to_second(self.services.clock.time()))

    @limited("live", lambda limits: limits.live_per_minute)
    async def live_image(self, request: web.Request) -> web.Response:
        viewed = await self._viewed(request)
        if isinstance(viewed, web.Response):
            return viewed
        nonce, title, holder, status = viewed
        if status is None:
            raise web.HTTPServiceUnavailable(text="status cannot be confirmed now")
        lang = viewer_language(request)
        shown = (nonce, lang, status.colour, status.code, status.until)
        png = self.pictures.get(shown)
        if png is None:
            texts = self.services.texts.of(lang)
            card = await build_card(self.services, texts, holder.openid, holder.person, holder.doc_index, status,
                                    title=title, subtitle=self._subtitle(texts, holder),
                                    whose=mask_name(holder.person.name) if holder.relative else "",
                                    facts=await holder_facts(self.services, texts, holder))
            png = self.pictures[shown] = await self.services.renderer.render(card)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})

    @staticmethod
    def _subtitle(texts: Templates, holder: Holder) -> str:
        return proxy_line(texts, holder.profile, holder.relative) if holder.relative else ""

    def install(self, routes: PageRoutes) -> None:
        routes.get("/code", self.live_code)
        routes.get("/img", self.live_image)
