"""/verify: the checkpoint's check of a printed offline code (离线码).

The headline is what the guard must do: the colour now for a genuine, unexpired code; 「已过期」; 「无效」.
That the signature holds and the colour at issue are secondary lines.
"""

from __future__ import annotations

from aiohttp import web

from bot.engine.services import Services
from bot.usecases.holders import check_offline
from bot.web.common import PageRoutes, limited, page, viewer_texts, wants_json


class VerifyPage:
    def __init__(self, services: Services) -> None:
        self.services = services

    @limited("verify", lambda limits: limits.verify_per_minute)
    async def show(self, request: web.Request) -> web.Response:
        services = self.services
        check = await check_offline(services, request.query.get("t", ""), viewer_texts(services, request))
        data = check.report()
        status = {"valid": 200, "expired": 410}.get(check.verdict.state, 403)
        if wants_json(request):
            return web.json_response(data, status=status, headers={"Cache-Control": "no-store"})
        return page(services, request, "pages/verify.html", status=status, **data)

    def install(self, routes: PageRoutes) -> None:
        routes.get("/verify", self.show)

