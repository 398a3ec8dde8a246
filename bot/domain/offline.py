"""Offline codes (离线码): a printable image whose QR is a signed, expiring token with no raw ID.

Payload: {"sub": relative index (an HMAC, not the number), "iat", "exp", "col", "nm": masked name}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.domain.clock import to_minute, to_second
from bot.domain.tokens import TokenExpired, TokenInvalid, TokenSigner

PURPOSE = "offline"


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str  # valid, expired or forged
    name: str = ""
    colour: str = ""
    issued: str = ""
    expires: str = ""
    subject: str = ""


def issue(signer: TokenSigner, subject: str, colour: str, masked_name: str, now: float, days: int) -> dict[str, Any]:
    payload = {"sub": subject, "iat": int(now), "exp": int(now) + days * 86400, "col": colour, "nm": masked_name}
    return {"token": signer.sign(PURPOSE, payload), **payload}


def verify(signer: TokenSigner, token: str, now: float) -> Verdict:
    try:
        payload, state = signer.verify(PURPOSE, token, now), "valid"
    except TokenExpired as expired:
        payload, state = expired.payload, "expired"
    except TokenInvalid:
        return Verdict("forged")
    return Verdict(state, str(payload.get("nm", "")), str(payload.get("col", "")), to_second(payload.get("iat", 0)),
                   to_minute(payload["exp"]), str(payload.get("sub", "")))
