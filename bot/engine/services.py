"""The shared parts a handler may use, built once per app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.domain.clock import Clock
from bot.domain.tokens import TokenSigner
from bot.ops.config import Settings
from bot.ops.metrics import Metrics
from bot.ops.templates import Templates
from bot.rendering import Renderer
from bot.upstreams import Upstreams
from bot.upstreams.face import FaceLinks, FaceVerifier
from bot.upstreams.identity import IdentityProvider
from bot.upstreams.results import ResultProvider
from bot.upstreams.sms import SmsSender
from bot.upstreams.status import StatusProvider
from bot.upstreams.travel import TravelProvider
from bot.wechat.api import WeChatAPI, WeChatAPIError
from bot.wechat.replies import Image, Text
from storage.audit import AuditLog
from storage.codes import ImageCache, QrTokens, ViewLinks
from storage.connection import HotClient, RedisClient
from storage.keys import Keys
from storage.profiles import ProfileStore
from storage.ratelimit import RateLimiter
from storage.relatives import RelativeStore
from storage.results import ResultRegistry
from storage.sms import SmsCodes
from storage.status import StatusRegistry
from storage.travel import TravelRegistry
from storage.turns import TurnStore
from storage.vault import Vault
from storage.venues import VenueRegistry
from storage.writes import Writer

log = logging.getLogger("healthbot.services")


@dataclass
class Services:
    settings: Settings
    templates: Templates
    redis: RedisClient
    hot: HotClient  # the lean client for what every request does (storage/resp.py)
    keys: Keys
    turns: TurnStore
    vault: Vault
    clock: Clock
    api: WeChatAPI
    profiles: ProfileStore
    status_registry: StatusRegistry
    upstreams: Upstreams
    identity: IdentityProvider
    status: StatusProvider
    renderer: Renderer
    relatives: RelativeStore
    signer: TokenSigner
    face: FaceVerifier
    face_links: FaceLinks
    sms: SmsCodes
    sms_sender: SmsSender
    travel_registry: TravelRegistry
    travel: TravelProvider
    result_registry: ResultRegistry
    results: ResultProvider
    limiter: RateLimiter
    qr_tokens: QrTokens
    images: ImageCache
    view_links: ViewLinks
    venues: VenueRegistry
    writer: Writer  # writes of other slots than the user's, on a cluster (Context.write_with_turn)
    audit: AuditLog
    metrics: Metrics

    async def upload_image(self, png: bytes, fallback: str = "") -> Image | Text:
        """An uploaded image, or its text when WeChat refuses the upload."""
        try:
            return Image(media_id=await self.api.upload_image(png), fallback=fallback)
        except WeChatAPIError as exc:
            log.warning("image upload failed: %s", exc)
            return Text(fallback or self.templates.render("image_failed.txt"))

    async def close(self) -> None:
        """Close every client this process opened (the embedded memory:// store is shared and stays)."""
        await self.api.close()
        self.renderer.close()
        await self.upstreams.http.close()
        if not self.settings.redis.url.startswith("memory://"):
            await self.redis.aclose()
            if self.hot is not self.redis:
                await self.hot.aclose()
