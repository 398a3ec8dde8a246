"""The shared parts a handler may use, built once per app."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.config import Settings
from bot.context import Clock
from bot.face import FaceVerifier
from bot.metrics import Metrics
from bot.pii import Vault
from bot.providers import IdentityProvider, ResultProvider, StatusProvider, TravelProvider
from bot.render import Renderer
from bot.replies import Image, Text
from bot.sms import SmsSender
from bot.templates import Templates
from bot.tokens import TokenSigner
from bot.wechat_api import WeChatAPI, WeChatAPIError
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
    identity: IdentityProvider
    status: StatusProvider
    renderer: Renderer
    relatives: RelativeStore
    signer: TokenSigner
    face: FaceVerifier
    sms: SmsCodes
    sms_sender: SmsSender
    travel_registry: TravelRegistry
    travel: TravelProvider
    result_registry: ResultRegistry
    results: ResultProvider
    limiter: RateLimiter
    metrics: Metrics

    async def upload_image(self, png: bytes, fallback: str = "") -> Image | Text:
        """An uploaded image, or its text when WeChat refuses the upload."""
        try:
            return Image(media_id=await self.api.upload_image(png), fallback=fallback)
        except WeChatAPIError as exc:
            log.warning("image upload failed: %s", exc)
            return Text(fallback or self.templates.render("image_failed.txt"))
