"""Short signed tokens with a key id and an expiry: for face-verification links and offline codes.

`v1.<kid>.<base64url payload>.<base64url HMAC-SHA256>`. The signature is checked before the payload is
read; a token signed by a retired key keeps verifying while that key is still listed (rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


class TokenInvalid(Exception):
    """Forged, malformed, or signed by a key that is no longer listed."""


class TokenExpired(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__("token expired")
        self.payload = payload


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenSigner:
    keys: dict[str, bytes]
    active: str

    def _mac(self, kid: str, purpose: str, body: str) -> bytes:
        return hmac.new(self.keys[kid], f"{purpose}.{kid}.{body}".encode(), hashlib.sha256).digest()

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
        return f"v1.{self.active}.{body}.{_b64(self._mac(self.active, purpose, body))}"

    def verify(self, purpose: str, token: str, now: float) -> dict[str, Any]:
        parts = token.strip().split(".")
        if len(parts) != 4 or parts[0] != "v1" or parts[1] not in self.keys:
            raise TokenInvalid("not a token of ours")
        _, kid, body, signature = parts
        try:
            valid = hmac.compare_digest(self._mac(kid, purpose, body), _unb64(signature))
            payload = json.loads(_unb64(body)) if valid else None
        except (ValueError, UnicodeDecodeError):
            raise TokenInvalid("malformed token") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int | float):
            raise TokenInvalid("signature does not verify")
        if now > payload["exp"]:
            raise TokenExpired(payload)
        return payload
