"""Services beyond the core, each a `Plugin`: how to build it from the shared parts, its config section, and
the CSV imports operators run for it. bot/features/installed.py's `PLUGINS` is the one list to add a new one to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.domain.clock import Clock
from bot.features.imports import CsvImport
from bot.ops.config import Settings, UpstreamSettings
from bot.ops.metrics import Metrics
from bot.upstreams.http import SharedSession
from storage.connection import HotClient, RedisClient
from storage.keys import Keys
from storage.profiles import ProfileStore
from storage.vault import Vault


@dataclass(frozen=True)
class Kit:
    """The shared parts a plugin's service is built from."""

    settings: Settings
    redis: RedisClient
    keys: Keys
    vault: Vault
    clock: Clock
    http: SharedSession  # for an upstream of its own (bot.upstreams.http.JsonUpstream)
    metrics: Metrics
    profiles: ProfileStore  # doc_index(doc_type, number): the key every per-person record is stored under
    hot: HotClient | None = None  # the lean client, for reads on every code view (storage/resp.py)


@dataclass(frozen=True)
class Plugin:
    name: str  # its config section ([name], HEALTHBOT_NAME_KEY): one word, lower case
    service: type  # the class of its service: `services.plugin(service)` finds it
    build: Callable[[Kit, Any], object]  # (kit, its section's settings) -> the service
    section: type = UpstreamSettings  # the shape of its config section
    # CSV imports, `healthbot admin NAME import FILE`: NAME -> the import, made from the service
    imports: dict[str, Callable[[Any], CsvImport[Any]]] = field(default_factory=dict)
    # The leaf of a per-document hash (Keys.of_document) that showing a code reads when the plugin answers
    # from Redis: the turn's first script reads it with the code (bot/engine/services.py, document_reads).
    document_hash: str = ""

