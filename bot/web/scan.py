"""The guard's page: what opens when a code's QR is scanned (WeChat's 扫一扫 or any scanner).

The headline is the holder's colour *now*, read from the status provider at scan time, with the action the
guard takes; a colour that cannot be confirmed is never shown. Below it: whose code it is (masked), a live
clock, and how old the QR is. An unknown or expired token gets a page that says so, never a 404.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.domain.clock import to_second, travel_stamp
from bot.domain.masking import mask_id_document, mask_name
from bot.engine.services import Services
from bot.ops.logs import hash_openid
from bot.upstreams.http import ProviderUnavailable
from bot.usecases.cards import proxy_line
from bot.usecases.holders import Holder, colour_now, holder_facts, scanned
from bot.web.common import PageRoutes, limited, page, viewer_texts
from storage import RedisError
from storage.codes import COMBINED

log = logging.getLogger("healthbot.scan")


class ScanPage:
    def __init__(self, services: Services) -> None:
        self.services = services

    @limited("scan", lambda limits: limits.scans_per_minute)
    async def show(self, request: web.Request) -> web.Response:
        services = self.services
        try:
            found = await scanned(services, request.match_info["token"])
        except RedisError:
            return page(services, request, "pages/busy.html", status=503)
        if found is None or found[1] is None:
            return page(services, request, "pages/scan_expired.html", status=410)
        issued, holder = found[0], found[1]
        now = services.clock.time()
        colour = await colour_now(services, issued.doc_index, holder)
        log.info("code scanned holder=%s colour=%s", hash_openid(holder.openid), colour or "unconfirmed")
        services.metrics.inc("healthbot_scans_total", colour=colour or "unconfirmed")
        texts = viewer_texts(services, request)
        return page(services, request, "pages/scan.html", colour=colour, name=mask_name(holder.person.name),
                    document=mask_id_document(holder.person.doc_type, holder.person.doc_number),
                    proxy=proxy_line(texts, holder.profile, holder.relative) if holder.relative else "",
                    scanned=to_second(now), issued=to_second(issued.at), age_minutes=int(max(0, now - issued.at) // 60),
                    travel=await self._travel(holder) if issued.kind == COMBINED else None,
                    facts=await holder_facts(services, texts, holder))

    async def _travel(self, holder: Holder) -> dict[str, object]:
        """二码合一: the travel card of the phone the citizen claimed with, summarised for the guard."""
        phone = holder.profile.person.phone
        try:
            card = await self.services.travel.card(phone, self.services.vault.index("phone", phone)) if phone else None
        except ProviderUnavailable:
            return {"available": False}
        if card is None:
            return {"available": True, "colour": "", "starred": False, "updated": ""}
        return {"available": True, "colour": card.colour, "starred": any(risky for _, risky in card.cities),
                "updated": travel_stamp(card.updated_at)}

    def install(self, routes: PageRoutes) -> None:
        routes.get("/c/{token}", self.show)
