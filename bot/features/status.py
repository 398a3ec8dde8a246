"""The colour of a code: the local registry operators set, and the provider that answers (the registry itself,
or an HTTP service) (docs/providers.md)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.upstreams.status import HealthStatus, LocalStatus, StatusProvider
from storage.profiles import PersonOf
from storage.status import Reader, StatusRegistry


@dataclass
class Status:
    registry: StatusRegistry
    provider: StatusProvider

    async def status(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> HealthStatus:
        """The colour now; raises ProviderUnavailable when it cannot be confirmed."""
        return await self.provider.status(person, doc_index, read)

    @property
    def local(self) -> bool:
        """Whether the registry is the answer (no HTTP provider): then it can tell a colour without a holder."""
        return isinstance(self.provider, LocalStatus)
