"""The opaque tokens inside code QRs: each image gets a fresh one, which resolves to its holder for a while.

A token maps to a sealed record {openid, subject document index, kind, issued at}; the page that resolves it
loads the holder again, so a deregistered user or an unbound relative stops resolving at once, and the colour
is always read at scan time. No per-user list of tokens is kept: they expire on their own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from storage.connection import RedisClient
from storage.keys import Keys
from storage.vault import SealError, Vault
from storage.writes import Write

CODE = "code"
COMBINED = "combined"


@dataclass(frozen=True, slots=True)
class CachedImage:
    shown: str  # what the image showed (colour, notice, stamp, travel), compared before it is sent again
    media_id: str
    at: float


class ImageCache:
    """A user's last uploaded code image per subject (self, a relative, 二码合一), re-sent while unchanged. One
    hash per subject, on the user's slot: the turn script may read it with the turn (TurnKeys.reads)."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys

    def key(self, openid: str, subject: str) -> str:
        return self.keys.image_cache(openid, subject)

    @staticmethod
    def decode(stored: dict[bytes, bytes]) -> CachedImage | None:
        if not stored.get(b"media_id"):
            return None
        return CachedImage(stored.get(b"shown", b"").decode(), stored[b"media_id"].decode(),
                           float(stored.get(b"at", b"0") or 0))

    def keep_writes(self, openid: str, subject: str, image: CachedImage, seconds: int) -> list[Write]:
        """The writes that keep `image` for `seconds`, for the turn's end: a glance that rendered writes them
        with the lock, so that a concurrent duplicate of its push gets this image, not a second one."""
        key = self.key(openid, subject)
        return [Write("HSET", key, ("shown", image.shown, "media_id", image.media_id, "at", repr(image.at))),
                Write("EXPIRE", key, (seconds,))]


class ViewLinks:
    """News mode's live-code links: a nonce names (openid, document index, title) until it expires."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    async def create(self, nonce: str, openid: str, doc_index: str, title: str, seconds: int) -> None:
        await self.redis.set(self.keys.view(nonce), f"{openid}\n{doc_index}\n{title}", ex=seconds)

    async def get(self, nonce: str) -> tuple[str, str, str] | None:
        stored = await self.redis.get(self.keys.view(nonce))
        if stored is None:
            return None
        openid, doc_index, title = stored.decode().split("\n")
        return openid, doc_index, title


@dataclass(frozen=True, slots=True)
class Issued:
    openid: str
    doc_index: str  # the holder's: the user's own, or a relative's
    kind: str  # CODE or COMBINED (二码合一)
    at: float


class QrTokens:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, ttl: int) -> None:
        self.redis, self.keys, self.vault, self.ttl = redis, keys, vault, ttl

    async def issue(self, openid: str, doc_index: str, kind: str, now: float) -> str:
        token = secrets.token_urlsafe(16)  # 128 bits
        record = {"o": openid, "d": doc_index, "k": kind, "t": now}
        await self.redis.set(self.keys.qr_token(token), self.vault.seal_json(record, context=f"qr:{token}"),
                             ex=self.ttl)
        return token

    async def resolve(self, token: str) -> Issued | None:
        """The record behind a token, or None when it is unknown, expired or not ours."""
        if not token or len(token) > 64:
            return None
        sealed = await self.redis.get(self.keys.qr_token(token))
        if sealed is None:
            return None
        try:
            record = self.vault.open_json(sealed, context=f"qr:{token}")
            return Issued(str(record["o"]), str(record["d"]), str(record["k"]), float(record["t"]))
        except (SealError, KeyError, TypeError, ValueError):
            return None
