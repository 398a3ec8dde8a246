"""Who delivers the SMS code: the stand-in (dev mode and tests) or a real gateway (docs/providers.md)."""

from __future__ import annotations

import logging
from typing import Protocol

from bot.domain.masking import mask_phone
from bot.upstreams.http import JsonUpstream, SharedSession

log = logging.getLogger("healthbot.sms")


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class HttpSms(JsonUpstream):
    provider = "sms"

    async def send(self, phone: str, text: str) -> None:
        await self.deliver({"phone": phone, "text": text})


class StandInSms(HttpSms):
    """Hands the message to the stand-in API, where `healthbot chat` shows it. In dev mode it is logged too."""

    def __init__(self, http: SharedSession, api_base: str, timeout: float, log_codes: bool) -> None:
        super().__init__(http, api_base.rstrip("/") + "/_standin/sms", timeout)
        self.log_codes = log_codes

    async def send(self, phone: str, text: str) -> None:
        if self.log_codes:
            log.info("DEV MODE SMS to %s: %s", mask_phone(phone), text)
        await super().send(phone, text)
