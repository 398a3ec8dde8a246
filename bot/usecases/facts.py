"""四码一屏: under the colour, the three facts a checkpoint reads at a glance: the days since the last nucleic
sample (with the 24 h / 48 h / 72 h marks), the vaccination state, and the travel card when it was verified
within the 二码合一 window. The holder's card, a relative's, the guard's page and `healthbot verify` show the
same lines; a fact that is unknown, or whose service cannot answer now, reads 「无记录」."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from bot.domain.clock import local
from bot.engine.services import Services
from bot.features.vaccination import LocalVaccinations, State, VaccinationService, state_of
from bot.ops.templates import Templates
from bot.upstreams.http import ProviderUnavailable
from bot.upstreams.results import LocalResults
from bot.upstreams.travel import LocalTravel
from storage.profiles import PersonOf
from storage.status import Reader

FACTS_WAIT = 1.0  # seconds the facts may take; then they read 无记录 and the code is shown without them


@dataclass(frozen=True, slots=True)
class Facts:
    sampled_at: float | None  # the newest sample's time
    vaccination: State | None  # None: no dose on record
    travel: tuple[str, bool] | None  # (the card's colour, whether it passed a starred city)


async def code_facts(services: Services, texts: Templates, person: PersonOf, doc_index: str,
                     openid: str = "", read: Reader | None = None) -> tuple[str, ...]:
    """The lines under the colour of one person's code: `facts_of`, as `fact_lines` words them in `texts`."""
    return fact_lines(services, texts, await facts_of(services, person, doc_index, openid, read))


async def facts_of(services: Services, person: PersonOf, doc_index: str, openid: str = "",
                   read: Reader | None = None) -> Facts:
    """The facts of one person's code; `openid`: the account whose own code it is (the travel card is the one
    its claimed phone verified), "" for a relative's. `read` (a turn's `ctx.read_hash`) serves what the turn's
    first script read with it: the travel verification and, on one Redis node, the document's hashes.
    `person` is opened only where it is needed: an HTTP provider, or a travel card verified within the window
    (its phone); a code view from local registries decrypts nothing here."""
    def travel() -> Coroutine[Any, Any, tuple[str, bool] | None]:
        return _verified_travel(services, openid, person, read) if openid else _nothing()

    if all_local(services):
        # Redis only, usually answered from the turn's copy: awaited in turn, without a task or a timer (Redis
        # answers within the client's own timeout).
        return Facts(await _sampled(services, person, doc_index, read),
                     await _vaccination(services, person, doc_index, read), await travel())
    reads = asyncio.gather(  # at once: one round trip's wait, not three
        _sampled(services, person, doc_index), _vaccination(services, person, doc_index), travel())
    try:  # an HTTP upstream that is slow must not hold the code itself back
        sampled, vaccination, travel = await asyncio.wait_for(reads, FACTS_WAIT)
    except TimeoutError:
        return Facts(None, None, None)
    return Facts(sampled, vaccination, travel)


def all_local(services: Services) -> bool:
    """Whether every fact comes from a registry in Redis rather than an HTTP upstream."""
    vaccination = services.plugins.get(VaccinationService)
    return (isinstance(services.results.provider, LocalResults) and isinstance(services.travel.provider, LocalTravel)
            and (vaccination is None or isinstance(vaccination.provider, LocalVaccinations)))


async def _nothing() -> None:
    return None


async def _sampled(services: Services, person: PersonOf, doc_index: str, read: Reader | None = None
                   ) -> float | None:
    with contextlib.suppress(ProviderUnavailable):
        return max((r.sampled_at for r in await services.results.results(person, doc_index, read)), default=None)
    return None


async def _vaccination(services: Services, person: PersonOf, doc_index: str, read: Reader | None = None
                       ) -> State | None:
    if VaccinationService not in services.plugins:
        return None
    with contextlib.suppress(ProviderUnavailable):
        doses = await services.plugin(VaccinationService).doses(person, doc_index, read)
        return state_of(doses) if doses else None
    return None


async def _verified_travel(services: Services, openid: str, person: PersonOf, read: Reader | None
                           ) -> tuple[str, bool] | None:
    registry = services.travel.registry
    verified = registry.verified(openid, await (read or services.hot.hgetall)(registry.verified_key(openid)))
    window = services.settings.travel.combined_window_hours * 3600
    if verified is None or services.clock.time() - verified[1] > window:
        return None
    phone = person().phone
    if not phone or verified[0] != phone:
        return None
    with contextlib.suppress(ProviderUnavailable):
        card = await services.travel.card(phone, services.vault.index("phone", phone))
        if card is not None:
            return card.colour, any(risky for _, risky in card.cities)
    return None


def fact_lines(services: Services, texts: Templates, facts: Facts) -> tuple[str, ...]:
    """The facts as the card, the guard's page and `verify` print them, one a line."""
    now = services.clock.time()
    days = hours = None
    if facts.sampled_at is not None:
        days = (local(now).date() - local(facts.sampled_at).date()).days  # calendar days, as checkpoints count
        hours = max(0.0, now - facts.sampled_at) / 3600
    travel = {"colour": facts.travel[0], "starred": facts.travel[1]} if facts.travel else None
    text = texts.render("cards/facts.txt", days=days, hours=hours, vaccination=facts.vaccination, travel=travel)
    return tuple(line for line in text.splitlines() if line.strip())
