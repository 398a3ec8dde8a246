"""The health code itself: who claimed what (profiles), the real-name check (identity), and what each code
image carries and keeps (QR tokens, the image cache, news mode's live links)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.upstreams.identity import IdentityProvider
from storage.codes import ImageCache, QrTokens, ViewLinks
from storage.profiles import ProfileStore


@dataclass
class HealthCodes:
    profiles: ProfileStore
    identity: IdentityProvider
    tokens: QrTokens
    images: ImageCache
    views: ViewLinks
