"""A stand-in for api.weixin.qq.com: stable_token, media/upload, message/custom/send and menu/create.

It keeps what it received, so tests and `healthbot chat` can fetch an uploaded image by media_id and read
the customer-service messages sent to a user. Faults can be queued per path to test the client's handling.
"""

from __future__ import annotations

import asyncio
import io
import json
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import qrcode
from aiohttp import web

from bot.wechat.menu import validate_menu


@dataclass
class Fault:
    errcode: int = 0
    status: int = 200
    delay: float = 0.0
    times: int = 1


@dataclass
class StandInState:
    app_id: str
    app_secret: str
    token: str = ""
    token_expires: float = 0.0
    token_issues: int = 0
    media: dict[str, bytes] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    sms: list[dict[str, Any]] = field(default_factory=list)
    qrcodes: dict[str, dict[str, str]] = field(default_factory=dict)  # ticket -> scene, url
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    outside_window: set[str] = field(default_factory=set)  # openids silent > 48 h: customer service gets 45015
    unfollowed: set[str] = field(default_factory=set)  # openids that unfollowed: template messages get 43004
    templates: list[dict[str, Any]] = field(default_factory=list)  # template messages received
    languages: dict[str, str] = field(default_factory=dict)  # openid -> its WeChat's language (user/info)
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def issue_token(self, force: bool = False) -> str:
        if force or not self.token or time.time() >= self.token_expires:
            self.token = secrets.token_urlsafe(48)
            self.token_expires = time.time() + 7200
            self.token_issues += 1
        return self.token

    def invalidate_token(self) -> None:
        self.token = ""


def _error(errcode: int, errmsg: str) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg})


PERMANENT_QR_LIMIT = 100_000
STATE = web.AppKey("standin_state", StandInState)


def create_standin(app_id: str, app_secret: str) -> web.Application:
    state = StandInState(app_id=app_id, app_secret=app_secret)
    app = web.Application(client_max_size=12 * 1024 * 1024)
    app[STATE] = state

    async def apply_fault(path: str) -> web.Response | None:
        state.calls[path] += 1
        queue = state.faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status != 200:
            return web.Response(status=fault.status, text="upstream error")
        if fault.errcode == 40001:
            state.invalidate_token()
        return _error(fault.errcode, "injected fault") if fault.errcode else None

    def token_ok(request: web.Request) -> bool:
        return bool(state.token) and request.query.get("access_token") == state.token

    async def refused(path: str, request: web.Request) -> web.Response | None:
        """A fault queued for `path`, or 40001 for a wrong access_token; None when the call goes on."""
        if (fault := await apply_fault(path)) is not None:
            return fault
        if not token_ok(request):
            return _error(40001, "invalid credential, access_token is invalid or not latest")
        return None

    async def stable_token(request: web.Request) -> web.Response:
        if (fault := await apply_fault("stable_token")) is not None:
            return fault
        body = await request.json()
        if body.get("appid") != state.app_id:
            return _error(40013, "invalid appid")
        if body.get("secret") != state.app_secret:
            return _error(40125, "invalid appsecret")
        token = state.issue_token(force=bool(body.get("force_refresh")))
        return web.json_response({"access_token": token, "expires_in": int(state.token_expires - time.time())})

    async def upload(request: web.Request) -> web.Response:
        if (refusal := await refused("media/upload", request)) is not None:
            return refusal
        if request.query.get("type") != "image":
            return _error(40004, "invalid media type")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return _error(41005, "media data missing")
        content = media.file.read()
        if len(content) > 2 * 1024 * 1024:
            return _error(40009, "invalid image size")
        media_id = secrets.token_urlsafe(24)
        state.media[media_id] = content
        return web.json_response({"type": "image", "media_id": media_id, "created_at": int(time.time())})

    async def custom_send(request: web.Request) -> web.Response:
        if (refusal := await refused("message/custom/send", request)) is not None:
            return refusal
        body = json.loads(await request.read())
        if body.get("touser") in state.outside_window:
            return _error(45015, "response out of time limit or subscription is canceled")
        if body.get("msgtype") == "image" and body.get("image", {}).get("media_id") not in state.media:
            return _error(40007, "invalid media_id")
        state.messages.append({**body, "at": time.time(), "seq": len(state.messages)})
        return _error(0, "ok")

    async def template_send(request: web.Request) -> web.Response:
        if (refusal := await refused("message/template/send", request)) is not None:
            return refusal
        body = json.loads(await request.read())
        if not isinstance(body, dict) or not body.get("template_id") or not isinstance(body.get("data"), dict):
            return _error(40037, "invalid template_id")
        if body.get("touser") in state.unfollowed:
            return _error(43004, "require subscribe")
        state.templates.append({**body, "at": time.time(), "seq": len(state.templates)})
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": len(state.templates)})

    async def get_templates(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        touser = request.query.get("touser")
        found = [m for m in state.templates if m["seq"] >= since and (not touser or m["touser"] == touser)]
        return web.json_response({"templates": found, "next": len(state.templates)})

    async def menu_create(request: web.Request) -> web.Response:
        if (refusal := await refused("menu/create", request)) is not None:
            return refusal
        menu = json.loads(await request.read())
        problem = validate_menu(menu)
        if problem:
            code, _, message = problem.partition(" ")
            return _error(int(code), message)
        state.menus.append(menu)
        return _error(0, "ok")

    async def get_media(request: web.Request) -> web.Response:
        content = state.media.get(request.match_info["media_id"])
        if content is None:
            raise web.HTTPNotFound()
        return web.Response(body=content, content_type="image/png")

    async def get_messages(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        touser = request.query.get("touser")
        found = [m for m in state.messages if m["seq"] >= since and (not touser or m["touser"] == touser)]
        return web.json_response({"messages": found, "next": len(state.messages)})

    app.router.add_post("/cgi-bin/stable_token", stable_token)
    app.router.add_post("/cgi-bin/media/upload", upload)
    app.router.add_post("/cgi-bin/message/custom/send", custom_send)
    app.router.add_post("/cgi-bin/message/template/send", template_send)
    app.router.add_post("/cgi-bin/menu/create", menu_create)

    async def user_info(request: web.Request) -> web.Response:
        if (refusal := await refused("/cgi-bin/user/info", request)) is not None:
            return refusal
        openid = request.query.get("openid", "")
        return web.json_response({"subscribe": 1, "openid": openid,
                                  "language": state.languages.get(openid, "zh_CN")})

    async def set_language(request: web.Request) -> web.Response:
        body = await request.json()
        state.languages[str(body["openid"])] = str(body["language"])
        return web.json_response({"ok": True})

    app.router.add_get("/cgi-bin/user/info", user_info)
    app.router.add_post("/_standin/users", set_language)
    async def qrcode_create(request: web.Request) -> web.Response:
        if (refusal := await refused("qrcode/create", request)) is not None:
            return refusal
        body = json.loads(await request.read())
        scene = body.get("action_info", {}).get("scene", {}).get("scene_str")
        action = body.get("action_name")
        if action not in ("QR_LIMIT_STR_SCENE", "QR_STR_SCENE") or not isinstance(scene, str) \
                or not 1 <= len(scene) <= 64:
            return _error(40053, "invalid action info")
        expires = body.get("expire_seconds", 60)
        if action == "QR_STR_SCENE" and (not isinstance(expires, int) or not 60 <= expires <= 2_592_000):
            return _error(40053, "invalid expire_seconds")
        if action == "QR_LIMIT_STR_SCENE" and sum(1 for q in state.qrcodes.values() if not q.get("expires")) \
                >= PERMANENT_QR_LIMIT:
            return _error(45030, "permanent qrcode count limit")
        ticket = secrets.token_urlsafe(32)
        url = f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"
        state.qrcodes[ticket] = {"scene": scene, "url": url,
                                 **({"expires": str(time.time() + expires)} if action == "QR_STR_SCENE" else {})}
        answer: dict[str, object] = {"ticket": ticket, "url": url}
        if action == "QR_STR_SCENE":
            answer["expire_seconds"] = expires
        return web.json_response(answer)

    async def showqrcode(request: web.Request) -> web.Response:
        """The image WeChat serves for a ticket: a QR of the ticket's url, which WeChat's scanner resolves."""
        found = state.qrcodes.get(request.query.get("ticket", ""))
        if found is None:
            raise web.HTTPNotFound()
        code = qrcode.QRCode(box_size=10, border=4)
        code.add_data(found["url"])
        buffer = io.BytesIO()
        code.make_image().save(buffer, format="PNG")
        return web.Response(body=buffer.getvalue(), content_type="image/png")

    app.router.add_post("/cgi-bin/qrcode/create", qrcode_create)
    app.router.add_get("/cgi-bin/showqrcode", showqrcode)
    app.router.add_get("/_standin/media/{media_id}", get_media)
    app.router.add_get("/_standin/messages", get_messages)
    app.router.add_get("/_standin/templates", get_templates)

    async def sms_in(request: web.Request) -> web.Response:
        """What an SMS gateway would deliver to the phone; kept for tests and `healthbot chat`."""
        if (fault := await apply_fault("sms")) is not None:
            return fault
        body = await request.json()
        state.sms.append({"phone": str(body["phone"]), "text": str(body["text"]), "seq": len(state.sms)})
        return _error(0, "ok")

    async def sms_out(request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        return web.json_response({"sms": state.sms[since:], "next": len(state.sms)})

    app.router.add_post("/_standin/sms", sms_in)
    app.router.add_get("/_standin/sms", sms_out)
    return app
