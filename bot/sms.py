"""Who delivers the SMS code: the stand-in (dev mode and tests) or a real gateway (docs/providers.md)."""

from __future__ import annotations

import logging
from typing import Protocol

import aiohttp

from bot.masking import mask_phone
from bot.providers import ProviderUnavailable

log = logging.getLogger("healthbot.sms")


class SmsSender(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class _Post:
    def __init__(self, url: str, timeout: float, token: str = "") -> None:
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def post(self, payload: dict[str, str]) -> None:
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http, \
                    http.post(self.url, json=payload, headers=self.headers) as response:
                if response.status != 200:
                    raise ProviderUnavailable(f"SMS gateway answered HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None


class StandInSms(_Post):
    """Hands the message to the stand-in API, where `healthbot chat` shows it. In dev mode it is logged too."""

    def __init__(self, api_base: str, timeout: float, log_codes: bool) -> None:
        super().__init__(api_base.rstrip("/") + "/_standin/sms", timeout)
        self.log_codes = log_codes

    async def send(self, phone: str, text: str) -> None:
        if self.log_codes:
            log.info("DEV MODE SMS to %s: %s", mask_phone(phone), text)
        await self.post({"phone": phone, "text": text})


class HttpSms(_Post):
    async def send(self, phone: str, text: str) -> None:
        await self.post({"phone": phone, "text": text})
