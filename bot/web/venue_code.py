"""The screen at a rotating venue's door: a stable, signed URL that always shows today's QR
(bot/usecases/venue_codes.py), reloading itself every few minutes so midnight brings the new one."""

from __future__ import annotations

from aiohttp import web
from cachetools import LRUCache

from bot.domain.tokens import TokenExpired, TokenInvalid
from bot.engine.services import Services
from bot.usecases.venue_codes import SCREEN, RenewalBusy, todays_code
from bot.web.common import PageRoutes, limited, page
from bot.wechat.api import WeChatAPIError
from storage import RedisError
from storage.venues import Venue

IMAGES = 256  # a day's QR image per venue, ~2 KB each


class VenueScreen:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.images: LRUCache[str, bytes] = LRUCache(IMAGES)

    async def _venue(self, request: web.Request) -> Venue | web.Response:
        services = self.services
        try:
            payload = services.signer.verify(SCREEN, request.query.get("t", ""), services.clock.time())
        except (TokenInvalid, TokenExpired):
            return page(services, request, "pages/venue_code_invalid.html", status=403)
        try:
            venue = await services.venues.get(str(payload.get("s", "")), cached=False)
            if venue is None or not venue.active or not venue.rotate:
                return page(services, request, "pages/venue_code_invalid.html", status=410)
            return await todays_code(services, venue)
        except (RedisError, RenewalBusy, WeChatAPIError):
            return page(services, request, "pages/busy.html", status=503)

    @limited("scan", lambda limits: limits.scans_per_minute)
    async def screen(self, request: web.Request) -> web.Response:
        venue = await self._venue(request)
        if isinstance(venue, web.Response):
            return venue
        return page(self.services, request, "pages/venue_code.html", name=venue.name, address=venue.address,
                    day=venue.code_day, token=request.query["t"])

    @limited("scan", lambda limits: limits.scans_per_minute)
    async def image(self, request: web.Request) -> web.Response:
        venue = await self._venue(request)
        if isinstance(venue, web.Response):
            return venue
        png = self.images.get(venue.code_ticket)
        if png is None:
            try:
                png = self.images[venue.code_ticket] = await self.services.api.qrcode_image(venue.code_ticket)
            except WeChatAPIError:
                return page(self.services, request, "pages/busy.html", status=503)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})

    def install(self, routes: PageRoutes) -> None:
        routes.get("/venue-code", self.screen)
        routes.get("/venue-code.png", self.image)
