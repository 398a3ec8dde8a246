"""The local nucleic-acid result registry (核酸检测结果), per document HMAC index, sealed."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio.client import Pipeline

from storage.connection import HotClient, RedisClient
from storage.keys import Keys
from storage.status import Reader
from storage.vault import Vault

KEEP_DAYS = 30


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # not a pytest class

    result: str  # 阴性 or 阳性
    sampled_at: float
    reported_at: float
    institution: str


class ResultRegistry:
    def __init__(self, redis: RedisClient, keys: Keys, vault: Vault, reads: HotClient | None = None) -> None:
        """`reads`: the lean client for the reads every code view makes (storage/resp.py)."""
        self.redis = redis
        self.keys = keys
        self.vault = vault
        self.reads = reads or redis

    def queue_add(self, pipe: Pipeline, doc_index: str, result: TestResult) -> None:
        sealed = self.vault.seal_json(
            {"result": result.result, "sampled_at": result.sampled_at, "reported_at": result.reported_at,
             "institution": result.institution}, context=doc_index)
        pipe.hset(self.keys.results(doc_index), f"{result.sampled_at:.0f}", sealed)
        pipe.expire(self.keys.results(doc_index), KEEP_DAYS * 86400)

    async def latest(self, doc_index: str, count: int = 3, read: Reader | None = None) -> list[TestResult]:
        """`read`: a turn's reader, which has this hash already when the turn's first script read it."""
        stored = await (read or self.reads.hgetall)(self.keys.results(doc_index))
        results = [TestResult(**self.vault.open_json(blob, context=doc_index)) for blob in stored.values()]
        return sorted(results, key=lambda r: r.sampled_at, reverse=True)[:count]
