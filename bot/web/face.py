"""Pages the bot serves besides /wechat: the face-verification page and its callback, and /verify."""

from __future__ import annotations

import contextlib
import logging
import time

from aiohttp import web
from redis.exceptions import RedisError

from bot.domain.clock import to_second
from bot.domain.masking import mask_name
from bot.domain.offline import verify as verify_offline
from bot.domain.tokens import TokenExpired, TokenInvalid
from bot.engine.dispatcher import Dispatcher
from bot.ops.logs import hash_openid
from bot.upstreams.face import PURPOSE as FACE
from bot.upstreams.face import redeem
from bot.upstreams.http import ProviderUnavailable
from bot.wechat.replies import SUCCESS
from handlers.cards import VIEW, build_card
from handlers.relatives import face_event, relative_person
from storage.profiles import Person

log = logging.getLogger("healthbot.pages")
HTML = "text/html"


class Pages:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.services = dispatcher.services

    def _page(self, template: str, status: int = 200, **values: object) -> web.Response:
        return web.Response(text=self.services.templates.render(template, **values), status=status,
                            content_type=HTML, headers={"Cache-Control": "no-store"})

    async def face_page(self, request: web.Request) -> web.Response:
        token = request.query.get("t", "")
        try:
            self.services.signer.verify(FACE, token, self.services.clock.time())
        except (TokenInvalid, TokenExpired):
            return self._page("pages/link_invalid.html", status=403)
        return self._page("pages/face.html", token=token)

    async def face_callback(self, request: web.Request) -> web.Response:
        """Pass or fail for one nonce, once. A forged, expired or replayed callback changes nothing."""
        try:
            body = await request.json() if request.content_type == "application/json" else await request.post()
            token, result = str(body.get("t", "")), str(body.get("result", ""))
        except ValueError:
            raise web.HTTPBadRequest(text="bad request") from None
        if result not in ("pass", "fail"):
            raise web.HTTPBadRequest(text="result must be pass or fail")
        now = self.services.clock.time()
        try:
            openid, nonce = await redeem(self.services.redis, self.services.keys, self.services.signer, token, now)
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
                ttl = self.services.settings.relatives.face_link_minutes * 60
                await self.services.redis.set(self.services.keys.face_nonce(nonce), openid, ex=ttl)
            return web.json_response({"ok": False, "error": "busy"}, status=503)
        return web.json_response({"ok": True})

    async def verify(self, request: web.Request) -> web.Response:
        """For checkpoint scanners: valid, expired or forged, with the masked name and colours."""
        services = self.services
        per_minute = services.settings.limits.verify_per_minute
        key = services.keys.client_bucket(request.remote or "unknown", "verify")
        try:
            allowed = await services.limiter.allow(key, per_minute, per_minute / 60, time.time())
        except RedisError:
            allowed = True  # the signature check needs no Redis; a checkpoint keeps working
        if not allowed:
            return web.json_response({"state": "too_many_requests"}, status=429)
        verdict = verify_offline(services.signer, request.query.get("t", ""), services.clock.time())
        current = ""
        if verdict.state == "valid" and verdict.subject:
            try:
                current = (await services.status_registry.get(verdict.subject)).colour
            except RedisError:
                current = ""
        data = {"state": verdict.state, "name": verdict.name, "colour_at_issue": verdict.colour,
                "issued": verdict.issued, "expires": verdict.expires, "current_colour": current}
        status = 200 if verdict.state == "valid" else 410 if verdict.state == "expired" else 403
        if "application/json" in request.headers.get("Accept", "") or request.query.get("format") == "json":
            return web.json_response(data, status=status)
        return self._page("pages/verify.html", status=status, **data)

    async def _viewed(self, request: web.Request) -> tuple[str, Person, str, str, str, str] | web.Response:
        """(openid, person, doc index, title, subtitle, colour now) behind a live-code link, or the page
        saying why not. The colour is "" when the status provider cannot confirm it."""
        services = self.services
        try:
            payload = services.signer.verify(VIEW, request.query.get("t", ""), services.clock.time())
            stored = await services.redis.get(services.keys.view(str(payload.get("n", ""))))
        except (TokenInvalid, TokenExpired):
            return self._page("pages/code_expired.html", status=403)
        if stored is None:
            return self._page("pages/code_expired.html", status=403)
        openid, subject, title = stored.decode().split("\n")
        profile = await services.profiles.load(openid)
        if profile is None:
            return self._page("pages/code_expired.html", status=410)
        person, doc_index, subtitle = profile.person, profile.doc_index, ""
        if subject != "self":
            relative = next((r for r in await services.relatives.list(openid) if r.index.startswith(subject)), None)
            if relative is None:
                return self._page("pages/code_expired.html", status=410)
            subtitle = services.templates.render("cards/proxy_line.txt", relationship=relative.relationship,
                                                 guardian=mask_name(profile.person.name))
            person, doc_index = relative_person(relative), relative.index
        try:
            colour = (await services.status.status(person, doc_index)).colour
        except ProviderUnavailable:
            colour = ""
        return openid, person, doc_index, title, subtitle, colour

    async def live_code(self, request: web.Request) -> web.Response:
        """The live code page: the colour is checked again on every load, and a clock ticks."""
        viewed = await self._viewed(request)
        if isinstance(viewed, web.Response):
            return viewed
        _, person, _, title, subtitle, colour = viewed
        return self._page("pages/code.html", title=title, subtitle=subtitle, name=mask_name(person.name),
                          colour=colour, token=request.query["t"],
                          checked=to_second(self.services.clock.time()))

    async def live_image(self, request: web.Request) -> web.Response:
        viewed = await self._viewed(request)
        if isinstance(viewed, web.Response):
            return viewed
        openid, person, doc_index, title, subtitle, colour = viewed
        if not colour:
            raise web.HTTPServiceUnavailable(text="status cannot be confirmed now")
        subject = "self" if not subtitle else doc_index[:24]
        card = await build_card(self.services, openid, person, doc_index, colour, subject=subject, title=title,
                                subtitle=subtitle)
        png = await self.services.renderer.render(card)
        return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})

    def install(self, app: web.Application) -> None:
        app.router.add_get("/code", self.live_code)
        app.router.add_get("/img", self.live_image)
        app.router.add_get("/face", self.face_page)
        app.router.add_post("/face/callback", self.face_callback)
        app.router.add_get("/verify", self.verify)
