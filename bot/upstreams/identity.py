"""Who a citizen is: the real-name check before a code is issued."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.upstreams.http import JsonUpstream, ProviderUnavailable
from storage.profiles import Person


@dataclass(frozen=True, slots=True)
class IdentityVerdict:
    ok: bool
    reason: str = ""


class IdentityProvider(Protocol):
    async def verify(self, person: Person) -> IdentityVerdict: ...


def person_payload(person: Person) -> dict[str, str]:
    """What an upstream is told about a person: the fields it needs to find them, nothing else."""
    return {"name": person.name, "doc_type": person.doc_type, "doc_number": person.doc_number,
            "nationality": person.nationality}


class LocalIdentity:
    """Accepts every well-formed name and document: the dialog has already validated both."""

    async def verify(self, person: Person) -> IdentityVerdict:
        return IdentityVerdict(True)


class HttpIdentity(JsonUpstream):
    provider = "identity"

    async def verify(self, person: Person) -> IdentityVerdict:
        # The three-element check (三要素): name, document and the phone the claimant just proved with a code.
        data = await self.post({**person_payload(person), "phone": person.phone})
        if not isinstance(data.get("match"), bool):
            raise ProviderUnavailable("identity answer has no boolean 'match'")
        return IdentityVerdict(bool(data["match"]), str(data.get("reason", ""))[:100])
