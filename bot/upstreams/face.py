"""Face verification before a relative is bound (skipped for ages 0–6).

The verifier hands out a link. Its result comes back to `/face/callback` carrying our signed token, which
names a single-use nonce; the nonce leads to the user, whose dialog then moves on through a normal turn.
`LocalFaceVerifier` links to a page served by the bot itself (a stand-in for a real provider: whoever holds
the link reports the result, so it is for trials only). `HttpFaceVerifier` asks a provider for the link and
gives the token only to the provider, which posts the result back (docs/providers.md).
"""

from __future__ import annotations

import secrets
from typing import Protocol

from bot.domain.clock import Clock
from bot.domain.tokens import TokenSigner
from bot.upstreams.http import JsonUpstream, ProviderUnavailable
from storage.face import FaceNonces

PURPOSE = "face"


class FaceVerifier(Protocol):
    async def link(self, openid: str) -> tuple[str, str]:
        """A fresh (nonce, link) for this user."""
        ...


class FaceLinks:
    """Single-use nonces, each under our signed token: what a verifier's link carries."""

    def __init__(self, nonces: FaceNonces, signer: TokenSigner, clock: Clock, public_url: str, ttl: int) -> None:
        self.nonces, self.signer, self.clock = nonces, signer, clock
        self.public_url, self.ttl = public_url, ttl

    async def mint(self, openid: str) -> tuple[str, str]:
        """A fresh (nonce, token) for this user."""
        nonce = secrets.token_urlsafe(12)
        await self.nonces.put(nonce, openid, self.ttl)
        return nonce, self.signer.sign(PURPOSE, {"n": nonce, "exp": int(self.clock.time()) + self.ttl})

    async def redeem(self, token: str, now: float) -> tuple[str, str]:
        """(openid, nonce) for a valid, unexpired, unused token; raises TokenInvalid/TokenExpired, or KeyError."""
        payload = self.signer.verify(PURPOSE, token, now)
        nonce = str(payload.get("n", ""))
        openid = await self.nonces.take(nonce)
        if openid is None:
            raise KeyError("used or unknown")
        return openid, nonce

    async def give_back(self, nonce: str, openid: str) -> None:
        """A redeemed nonce whose result could not be acted on: the same link may report it again."""
        await self.nonces.put(nonce, openid, self.ttl)


class LocalFaceVerifier:
    def __init__(self, links: FaceLinks) -> None:
        self.links = links

    async def link(self, openid: str) -> tuple[str, str]:
        nonce, token = await self.links.mint(openid)
        return nonce, f"{self.links.public_url}/face?t={token}"


class FaceProvider(JsonUpstream):
    provider = "face"


class HttpFaceVerifier:
    def __init__(self, links: FaceLinks, upstream: JsonUpstream) -> None:
        self.links = links
        self.upstream = upstream

    async def link(self, openid: str) -> tuple[str, str]:
        nonce, token = await self.links.mint(openid)
        data = await self.upstream.post({"token": token, "callback_url": f"{self.links.public_url}/face/callback"})
        if not str(data.get("url", "")).startswith("http"):
            raise ProviderUnavailable("face provider gave no link")
        return nonce, str(data["url"])
