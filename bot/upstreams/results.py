"""Nucleic-acid test results (核酸检测结果): the local registry, or the testing authority's service."""

from __future__ import annotations

from typing import Protocol

from bot.upstreams.http import JsonUpstream, ProviderUnavailable
from bot.upstreams.identity import person_payload
from storage.profiles import PersonOf
from storage.results import ResultRegistry, TestResult
from storage.status import Reader


class ResultProvider(Protocol):
    async def results(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[TestResult]:
        """`person` is called only by a provider that must name the person (an HTTP one); `read`: a turn's
        reader, for a provider that reads Redis (the turn's first script may have it)."""


class LocalResults:
    def __init__(self, registry: ResultRegistry) -> None:
        self.registry = registry

    async def results(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[TestResult]:
        return await self.registry.latest(doc_index, read=read)


class HttpResults(JsonUpstream):
    provider = "results"

    async def results(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[TestResult]:
        data = await self.post(person_payload(person()))
        rows = data.get("results")
        if not isinstance(rows, list):
            raise ProviderUnavailable("results answer has no list 'results'")
        try:
            parsed = [TestResult(str(r["result"]), float(r["sampled_at"]), float(r["reported_at"]),
                                 str(r["institution"])) for r in rows]
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("a result lacks result, sampled_at, reported_at or institution") from None
        return sorted(parsed, key=lambda r: r.sampled_at, reverse=True)[:3]
