"""The /wechat endpoint: authenticate first, then parse, dispatch and reply (encrypted in safe mode)."""

from __future__ import annotations

import hashlib
import logging
import time

from aiohttp import web

from bot.domain.numerals import small_number
from bot.engine.dispatcher import Dispatcher, Replayed
from bot.ops.config import Settings
from bot.wechat.crypto import EnvelopeError, MessageCipher
from bot.wechat.inbound import DTD_RE, BadPush, parse_inbound
from bot.wechat.replies import SUCCESS
from bot.wechat.signing import signature_ok
from storage import RedisError
from storage.turns import FirstBody, first_body_ttl

log = logging.getLogger("healthbot.webhook")

BODY_LIMIT = 64 * 1024
WHY = web.RequestKey("refusal", str)  # what a refusal's log line adds
XML_TYPE = "application/xml"


class Webhook:
    def __init__(self, settings: Settings, dispatcher: Dispatcher) -> None:
        wechat = settings.wechat
        self.token = wechat.token
        self.dispatcher = dispatcher
        self.services = dispatcher.services
        self.observe_request = self.services.metrics.series("healthbot_request_seconds")
        self.replay_window = settings.server.replay_window
        self.cipher = (
            MessageCipher(wechat.token, wechat.encoding_aes_key, wechat.app_id) if wechat.encrypted else None
        )

    async def verify_url(self, request: web.Request) -> web.Response:
        """GET: WeChat's URL check. The echostr goes back unchanged when the signature matches."""
        q = request.query
        echostr = q.get("echostr", "")
        if not echostr or not signature_ok(q.get("signature"), self.token, q.get("timestamp", ""),
                                           q.get("nonce", "")):
            raise web.HTTPForbidden(text="bad signature")
        return web.Response(text=echostr)

    async def receive(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            return await self._receive(request)
        except web.HTTPClientError as refused:  # 403, 400, 413: one line each, for the operator to count
            log.info("refused push: %d %s%s", refused.status, refused.text,
                     f" ({request[WHY]})" if WHY in request else "")
            raise
        finally:
            self.observe_request(time.perf_counter() - started)

    async def _receive(self, request: web.Request) -> web.Response:
        q = request.query
        timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
        encrypted = q.get("encrypt_type", "raw").lower() == "aes"
        if not timestamp or not nonce or encrypted != (self.cipher is not None):
            raise web.HTTPForbidden(text="bad signature")
        sent_at = small_number(timestamp, 12)  # seconds: 10 digits until 2286
        if sent_at is None or abs(time.time() - sent_at) > self.replay_window:
            raise web.HTTPForbidden(text="stale timestamp")
        if request.content_length is not None and request.content_length > BODY_LIMIT:
            raise web.HTTPRequestEntityTooLarge(max_size=BODY_LIMIT, actual_size=request.content_length)
        body = await request.read()
        first_body = None
        if self.cipher is not None:
            xml = self._open_envelope(request, body, q.get("msg_signature"), timestamp, nonce)
        else:
            if not signature_ok(q.get("signature"), self.token, timestamp, nonce):
                raise web.HTTPForbidden(text="bad signature")
            # The signature does not cover the body in plaintext mode: a signed query seen with one body must
            # not carry another. WeChat's own retries repeat the same body and pass (dedup answers them).
            first_body = FirstBody(self.services.keys.replay(timestamp, nonce),
                                   hashlib.sha256(body).hexdigest()[:32], first_body_ttl(self.replay_window))
            if not self.services.turns.one_node:  # on a cluster the check cannot join the turn's script
                if not await self._first_body_for(first_body):
                    raise web.HTTPForbidden(text="replayed")
                first_body = None
            xml = body
        if self.cipher is not None and DTD_RE.search(body):  # parse_inbound checks what it parses itself
            raise web.HTTPBadRequest(text="DTDs are not accepted")
        try:
            message = parse_inbound(xml)
        except BadPush as exc:
            request[WHY] = str(exc)
            raise web.HTTPBadRequest(text="bad request") from None
        try:
            reply = await self.dispatcher.handle(message, first_body=first_body)
        except Replayed:
            raise web.HTTPForbidden(text="replayed") from None
        except Exception:  # a bug must not become WeChat's 「该公众号暂时无法提供服务」
            log.exception("dispatch failed")
            reply = SUCCESS
        if reply == SUCCESS:
            return web.Response(text=SUCCESS)
        if self.cipher is not None:
            reply = self.cipher.envelope(reply)
        return web.Response(text=reply, content_type=XML_TYPE)

    async def _first_body_for(self, first: FirstBody) -> bool:
        try:
            stored = await self.services.hot.set(first.key, first.digest, nx=True, ex=first.ttl, get=True)
        except RedisError:
            return True  # the turn itself will answer 「服务繁忙」
        return stored is None or stored.decode() == first.digest

    def _open_envelope(self, request: web.Request, body: bytes, msg_signature: str | None, timestamp: str,
                       nonce: str) -> bytes:
        assert self.cipher is not None  # noqa: S101 - only called in encrypted mode
        if not msg_signature:
            raise web.HTTPForbidden(text="bad signature")
        try:
            encrypt = self.cipher.extract_encrypt(body)
        except EnvelopeError:
            raise web.HTTPBadRequest(text="bad request") from None
        if not self.cipher.verify(msg_signature, timestamp, nonce, encrypt):
            raise web.HTTPForbidden(text="bad signature")
        try:
            return self.cipher.decrypt(encrypt)
        except EnvelopeError as exc:
            request[WHY] = f"envelope: {exc}"
            raise web.HTTPBadRequest(text="bad request") from None
