"""核酸检测结果: the local registry operators import into, and the provider that answers for a person."""

from __future__ import annotations

from dataclasses import dataclass

from bot.upstreams.results import ResultProvider
from storage.profiles import PersonOf
from storage.results import ResultRegistry, TestResult
from storage.status import Reader


@dataclass
class Results:
    registry: ResultRegistry
    provider: ResultProvider

    async def results(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[TestResult]:
        return await self.provider.results(person, doc_index, read)
