"""Face verification: the single-use links (our signed nonces) and the verifier that hands them out."""

from __future__ import annotations

from dataclasses import dataclass

from bot.upstreams.face import FaceLinks, FaceVerifier


@dataclass
class Face:
    links: FaceLinks
    verifier: FaceVerifier

    async def link(self, openid: str) -> tuple[str, str]:
        """A fresh (nonce, link) for this user."""
        return await self.verifier.link(openid)
