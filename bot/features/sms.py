"""SMS codes: issuing and checking them within the limits (storage), and the gateway that sends them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.upstreams.sms import SmsSender
from storage.sms import CheckOutcome, SendOutcome, SmsCodes


@dataclass
class Sms:
    codes: SmsCodes
    sender: SmsSender

    async def issue(self, phone_index: str, openid: str, now: float, owner: bool = False,
                    send_id: str = "") -> SendOutcome:
        return await self.codes.issue(phone_index, openid, now, owner, send_id)

    async def check(self, phone_index: str, openid: str, code: str, now: float) -> CheckOutcome:
        return await self.codes.check(phone_index, openid, code, now)

    async def send(self, phone: str, text: str) -> None:
        """Raises ProviderUnavailable when the gateway does not take it."""
        await self.sender.send(phone, text)
