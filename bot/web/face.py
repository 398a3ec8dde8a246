"""The built-in face-verification page (a stand-in for a provider's) and the callback every provider uses."""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web

from bot.domain.tokens import TokenExpired, TokenInvalid
from bot.engine.dispatcher import Dispatcher
from bot.ops.logs import hash_openid
from bot.upstreams.face import PURPOSE as FACE
from bot.usecases.face import face_event
from bot.web.common import PageRoutes, page
from bot.wechat.replies import SUCCESS
from storage import RedisError

log = logging.getLogger("healthbot.face")


class FacePages:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.services = dispatcher.services

    async def face_page(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        try:
            self.services.signer.verify(FACE, token, self.services.clock.time())
        except (TokenInvalid, TokenExpired):
            return page(self.services, request, "pages/link_invalid.html", status=403)
        return page(self.services, request, "pages/face.html", token=token)

    async def face_callback(self, request: web.Request) -> web.Response:
        """Pass or fail for one nonce, once. A forged, expired or replayed callback changes nothing."""
        try:
            body = await request.json() if request.content_type == "application/json" else await request.post()
        except ValueError:
            raise web.HTTPBadRequest(text="bad request") from None
        if not hasattr(body, "get"):  # JSON that is not an object: [1], "x", 1, null
            raise web.HTTPBadRequest(text="the body must be an object with t and result")
        token, result = body.get("t"), body.get("result")
        if not isinstance(token, str) or result not in ("pass", "fail"):
            raise web.HTTPBadRequest(text="t must be a string and result pass or fail")
        now = self.services.clock.time()
        try:
            openid, nonce = await self.services.face.links.redeem(token, now)
        except TokenInvalid:
            return web.json_response({"ok": False, "error": "forged"}, status=403)
        except TokenExpired:
            return web.json_response({"ok": False, "error": "expired"}, status=403)
        except KeyError:
            return web.json_response({"ok": False, "error": "used"}, status=403)
        except RedisError:
            return web.json_response({"ok": False, "error": "busy"}, status=503)
        log.info("face result %s user=%s", result, hash_openid(openid))
        if await self.dispatcher.handle(face_event(openid, nonce, result, int(now)), via_api=True) != SUCCESS:
            # The turn did not run (the user's other message held the lock, or Redis failed): give the
            # nonce back, so the same link can report the result again.
            with contextlib.suppress(RedisError):
                await self.services.face.links.give_back(nonce, openid)
            return web.json_response({"ok": False, "error": "busy"}, status=503)
        return web.json_response({"ok": True})

    def install(self, routes: PageRoutes) -> None:
        routes.get("/face", self.face_page)
        routes.post("/face/callback", self.face_callback)
