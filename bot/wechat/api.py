"""An asyncio client for the four WeChat APIs we call, on aiohttp.

access_token comes from stable_token and is shared by every worker through Redis: one worker refreshes it
behind a lock with a double check, the others wait and re-read. On 40001/40014/42001 the stored token is
dropped only if it is still the one that failed, then the call is retried once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.ops.config import DEFAULT_API_BASE, WeChatSettings
from bot.ops.metrics import Metrics
from storage.vault import SealError, Vault
from storage.wechat import ApiCache

if TYPE_CHECKING:
    from bot.wechat.replies import News

log = logging.getLogger("healthbot.wechat_api")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
TRANSIENT_ERRORS = frozenset({-1, 45011})
SHOWQRCODE = "https://mp.weixin.qq.com/cgi-bin/showqrcode"
MEDIA_TTL = int(2.5 * 86400)  # temporary media lives 3 days; re-upload well before


class WeChatAPIError(Exception):
    def __init__(self, errcode: int, errmsg: str, path: str) -> None:
        super().__init__(f"{path}: errcode {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatAPI:
    def __init__(self, settings: WeChatSettings, cache: ApiCache, vault: Vault,
                 session: aiohttp.ClientSession | None = None, attempts: int = 3,
                 metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.cache = cache
        self.base = settings.api_base.rstrip("/")
        self._session = session
        self._owns_session = session is None
        self.attempts = attempts
        self.metrics = metrics or Metrics()
        self.vault = vault
        self._sealed: dict[str, bytes] = {}  # token -> the sealed value it was read from (compare-and-delete)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.api_timeout))
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()

    # -- token ----------------------------------------------------------------------------------------

    async def access_token(self) -> str:
        """The shared token. It is kept sealed in Redis: a dump of Redis must not hand out API access."""
        if token := await self._read_token():
            return token
        lock_token = secrets.token_hex(8)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.settings.api_timeout
        while loop.time() < give_up:
            if await self.cache.lock_refresh(lock_token, 10_000):
                try:
                    if token := await self._read_token():  # double check inside the lock
                        return token
                    return await self._fetch_token()
                finally:
                    await self.cache.unlock_refresh(lock_token)
            await asyncio.sleep(0.05)
            if token := await self._read_token():
                return token
        raise WeChatAPIError(-1, "timed out waiting for another worker's token refresh", "stable_token")

    async def _read_token(self) -> str:
        sealed = await self.cache.sealed_token()
        if not sealed:
            return ""
        try:
            token = self.vault.open(sealed, context="access_token").decode()
        except SealError:
            return ""  # written with another data key: fetch a fresh one
        self._remember(token, sealed)
        return token

    async def _fetch_token(self) -> str:
        payload = {"grant_type": "client_credential", "appid": self.settings.app_id,
                   "secret": self.settings.app_secret, "force_refresh": False}
        self.metrics.inc("healthbot_token_refreshes_total")
        data = await self._post_json("/cgi-bin/stable_token", payload, token=None)
        token, expires_in = data["access_token"], int(data.get("expires_in", 7200))
        sealed = self.vault.seal(token.encode(), context="access_token")
        await self.cache.keep_token(sealed, max(60, expires_in - 120))
        self._remember(token, sealed)
        log.info("access_token refreshed, valid %d s", expires_in)
        return token

    def _remember(self, token: str, sealed: bytes) -> None:
        """Which sealed value a token was read from (for compare-and-delete): the last few only."""
        if len(self._sealed) >= 8:
            self._sealed.clear()
        self._sealed[token] = sealed

    async def _drop_token(self, failed: str) -> None:
        """Only if Redis still holds the token that failed: another worker may have stored a newer one."""
        sealed = self._sealed.pop(failed, None)
        if sealed is not None:
            await self.cache.drop_token(sealed)

    # -- calls ----------------------------------------------------------------------------------------

    async def call(self, path: str, payload: dict[str, Any] | None = None,
                   form: dict[str, Any] | None = None, params: dict[str, str] | None = None,
                   get: bool = False) -> dict[str, Any]:
        """`get`: a GET with `params` only (user/info), rather than a POST."""
        token = await self.access_token()
        try:
            return await self._post(path, token, payload, form, params, get)
        except WeChatAPIError as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.warning("access_token rejected (%d); refreshing once", exc.errcode)
            await self._drop_token(token)
            return await self._post(path, await self.access_token(), payload, form, params, get)

    async def _post_json(self, path: str, payload: dict[str, Any], token: str | None) -> dict[str, Any]:
        return await self._post(path, token, payload, None, None)

    async def _post(self, path: str, token: str | None, payload: dict[str, Any] | None,
                    form: dict[str, Any] | None, params: dict[str, str] | None, get: bool = False) -> dict[str, Any]:
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        delay = 0.2
        for attempt in range(1, self.attempts + 1):
            try:
                data = await self._send(path, query, payload, form, get)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                if attempt == self.attempts:
                    raise WeChatAPIError(-1, f"{type(exc).__name__}", path) from None
            else:
                errcode = int(data.get("errcode", 0) or 0)
                if errcode == 0:
                    return data
                error = WeChatAPIError(errcode, str(data.get("errmsg", "")), path)
                log.warning("wechat api error path=%s errcode=%d", path, errcode)
                self.metrics.inc("healthbot_api_errors_total", errcode=errcode)
                if errcode not in TRANSIENT_ERRORS or attempt == self.attempts:
                    raise error
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def _send(self, path: str, query: dict[str, str], payload: dict[str, Any] | None,
                    form: dict[str, Any] | None, get: bool = False) -> dict[str, Any]:
        url = self.base + path
        if get:
            request = self.session.get(url, params=query)
        elif form is not None:
            body = aiohttp.FormData()
            for name, (filename, content, ctype) in form.items():
                body.add_field(name, content, filename=filename, content_type=ctype)
            request = self.session.post(url, params=query, data=body)
        else:
            request = self.session.post(
                url, params=query, data=json.dumps(payload or {}, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json"},
            )
        async with request as response:
            if response.status >= 500:
                raise aiohttp.ClientResponseError(response.request_info, (), status=response.status)
            return json.loads(await response.read())

    # -- the four APIs --------------------------------------------------------------------------------

    async def upload_image(self, png: bytes) -> str:
        """Temporary media, cached by content hash so the same image is never uploaded twice."""
        digest = hashlib.sha256(png).hexdigest()
        if cached := await self.cache.media_id(digest):
            return cached
        data = await self.call("/cgi-bin/media/upload", form={"media": ("code.png", png, "image/png")},
                               params={"type": "image"})
        media_id = data["media_id"]
        await self.cache.keep_media_id(digest, media_id, MEDIA_TTL)
        return media_id

    async def send_text(self, openid: str, content: str) -> None:
        await self.call("/cgi-bin/message/custom/send",
                        {"touser": openid, "msgtype": "text", "text": {"content": content}})

    async def send_template(self, openid: str, template_id: str, url: str, data: dict[str, str]) -> None:
        """A template message (message/template/send): reaches a follower outside the 48 h window too."""
        await self.call("/cgi-bin/message/template/send",
                        {"touser": openid, "template_id": template_id, "url": url,
                         "data": {key: {"value": value} for key, value in data.items()}})

    async def send_image(self, openid: str, media_id: str) -> None:
        await self.call("/cgi-bin/message/custom/send",
                        {"touser": openid, "msgtype": "image", "image": {"media_id": media_id}})

    async def send_news(self, openid: str, news: News) -> None:
        article = {"title": news.title, "description": news.description, "url": news.url, "picurl": news.pic_url}
        await self.call("/cgi-bin/message/custom/send",
                        {"touser": openid, "msgtype": "news", "news": {"articles": [article]}})

    async def user_language(self, openid: str) -> str:
        """The language the follower's WeChat is set to (user/info: "zh_CN", "en"...); a 服务号 that is
        verified may call it. Raises WeChatAPIError where it may not (48001)."""
        data = await self.call("/cgi-bin/user/info", params={"openid": openid, "lang": "zh_CN"}, get=True)
        return str(data.get("language", ""))

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self.call("/cgi-bin/menu/create", menu)

    async def create_venue_qrcode(self, scene: str) -> tuple[str, str]:
        """A permanent parametric QR (QR_LIMIT_STR_SCENE): its (ticket, url)."""
        data = await self.call("/cgi-bin/qrcode/create", {"action_name": "QR_LIMIT_STR_SCENE",
                                                          "action_info": {"scene": {"scene_str": scene}}})
        return str(data["ticket"]), str(data.get("url", ""))

    async def create_temporary_qrcode(self, scene: str, seconds: int) -> tuple[str, str]:
        """A temporary parametric QR (QR_STR_SCENE, at most 30 days): its (ticket, url)."""
        data = await self.call("/cgi-bin/qrcode/create", {"expire_seconds": seconds, "action_name": "QR_STR_SCENE",
                                                          "action_info": {"scene": {"scene_str": scene}}})
        return str(data["ticket"]), str(data.get("url", ""))

    async def qrcode_image(self, ticket: str) -> bytes:
        """The QR image for a ticket (showqrcode needs no access_token)."""
        url = self.settings.showqrcode_url or (
            SHOWQRCODE if self.base == DEFAULT_API_BASE else self.base + "/cgi-bin/showqrcode")
        try:
            async with self.session.get(url, params={"ticket": ticket}) as response:
                body = await response.read()
                if response.status != 200 or not response.content_type.startswith("image/"):
                    raise WeChatAPIError(-1, f"HTTP {response.status} {response.content_type}", "showqrcode")
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WeChatAPIError(-1, type(exc).__name__, "showqrcode") from None
