"""Who delivers the SMS code: the stand-in (dev mode and tests) or a real gateway (docs/providers.md)."""

from __future__ import annotations

import logging
from typing import Protocol
from urllib.parse import urlsplit

from bot.domain.masking import mask_phone
from bot.upstreams.http import JsonUpstream, ProviderUnavailable, SharedSession

log = logging.getLogger("healthbot.sms")


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class HttpSms(JsonUpstream):
    provider = "sms"

    async def send(self, phone: str, text: str) -> None:
        await self.deliver({"phone": phone, "text": text})


def is_wechat_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == "qq.com" or host.endswith((".qq.com", ".weixin.qq.com"))


class StandInSms(HttpSms):
    """Hands the message to the stand-in API, where `healthbot chat` shows it. In dev mode it is logged too.
    It never sends to WeChat's own API host, whatever `wechat.api_base` says: a citizen's phone and code are
    not WeChat's to receive. There, nothing is sent and the citizen is told the SMS service is unavailable."""

    def __init__(self, http: SharedSession, api_base: str, timeout: float, log_codes: bool) -> None:
        super().__init__(http, api_base.rstrip("/") + "/_standin/sms", timeout)
        self.log_codes = log_codes
        self.refused = is_wechat_host(api_base)

    async def send(self, phone: str, text: str) -> None:
        if self.refused:
            log.warning("SMS stand-in: wechat.api_base is WeChat's own host; nothing sent to %s", mask_phone(phone))
            raise ProviderUnavailable("the SMS stand-in does not send to WeChat's API host")
        if self.log_codes:
            log.info("DEV MODE SMS to %s: %s", mask_phone(phone), text)
        await super().send(phone, text)
