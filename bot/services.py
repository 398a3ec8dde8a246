"""The shared parts a handler may use, built once per app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from bot.config import Settings
from bot.context import Clock
from bot.pii import Vault
from bot.templates import Templates
from storage.keys import Keys
from storage.turns import TurnStore

if TYPE_CHECKING:
    from bot.wechat_api import WeChatAPI


@dataclass
class Services:
    settings: Settings
    templates: Templates
    redis: aioredis.Redis
    keys: Keys
    turns: TurnStore
    vault: Vault
    clock: Clock
    api: WeChatAPI
    extras: dict[str, Any] = field(default_factory=dict)
