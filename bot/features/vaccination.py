"""疫苗接种记录: a person's doses, from the local registry operators import into, or from the immunisation
service at `[vaccination] url`; and the state they add up to (docs/vaccination.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.domain.clock import local
from bot.features.imports import BadRow, CsvImport, document, moment
from bot.features.plugins import Kit, Plugin
from bot.ops.config import UpstreamSettings
from bot.upstreams.http import JsonUpstream, ProviderUnavailable
from bot.upstreams.identity import person_payload
from storage import Pipeline
from storage.profiles import PersonOf, ProfileStore
from storage.status import Reader
from storage.vaccinations import LEAF, Dose, VaccinationRegistry

# Doses a full course takes, by a word in the vaccine's name; inactivated vaccines (国药, 科兴 …) take two.
COURSES = (("腺病毒", 1), ("康希诺", 1), ("重组蛋白", 3), ("智飞", 3), ("龙科马", 3))
INACTIVATED_COURSE = 2
MOST_DOSES = 9


def course_of(vaccine: str) -> int:
    return next((doses for word, doses in COURSES if word in vaccine), INACTIVATED_COURSE)


@dataclass(frozen=True, slots=True)
class State:
    """What the doses add up to: "none" (未接种), "partial" (已接种第 n 针), "full" (已完成全程) or "booster"
    (已加强), judged by the first dose's vaccine."""

    kind: str
    doses: int
    course: int


def state_of(doses: list[Dose]) -> State:
    if not doses:
        return State("none", 0, 0)
    course, given = course_of(doses[0].vaccine), len(doses)
    kind = "partial" if given < course else "full" if given == course else "booster"
    return State(kind, given, course)


class VaccinationProvider(Protocol):
    async def doses(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[Dose]:
        """`person` is called only by a provider that must name the person (an HTTP one); `read`: a turn's
        reader, for a provider that reads Redis (the turn's first script may have it)."""


class LocalVaccinations:
    def __init__(self, registry: VaccinationRegistry) -> None:
        self.registry = registry

    async def doses(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[Dose]:
        return await self.registry.doses(doc_index, read=read)


class HttpVaccinations(JsonUpstream):
    """POSTs the person (docs/providers.md); expects {"doses": [{dose, vaccine, date, institution}, …]}."""

    provider = "vaccination"

    async def doses(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[Dose]:
        rows = (await self.post(person_payload(person()))).get("doses")
        if not isinstance(rows, list):
            raise ProviderUnavailable("vaccination answer has no list 'doses'")
        try:
            doses = [Dose(int(r["dose"]), str(r["vaccine"]), str(r["date"]), str(r["institution"])) for r in rows]
        except (KeyError, TypeError, ValueError):
            raise ProviderUnavailable("a dose lacks dose, vaccine, date or institution") from None
        return sorted(doses, key=lambda d: d.dose)


@dataclass
class VaccinationService:
    registry: VaccinationRegistry
    provider: VaccinationProvider
    profiles: ProfileStore

    async def doses(self, person: PersonOf, doc_index: str, read: Reader | None = None) -> list[Dose]:
        """Raises ProviderUnavailable when the immunisation service cannot answer."""
        return await self.provider.doses(person, doc_index, read)

    def csv_import(self) -> CsvImport[tuple[str, Dose]]:
        """`healthbot admin vaccinations import FILE`: doc_type,doc_no,dose,vaccine,date,institution."""
        def parse(row: list[str], now: float) -> tuple[str, Dose]:
            doc_type, number = document(row[0], row[1], local(now).date())
            dose = row[2].strip()
            if not dose.isdigit() or not 1 <= int(dose) <= MOST_DOSES:
                raise BadRow(f"dose must be a whole number from 1 to {MOST_DOSES}")
            vaccine, institution = row[3].strip(), row[5].strip()
            if not 1 <= len(vaccine) <= 40:
                raise BadRow("vaccine must be 1 to 40 characters")
            given = moment(row[4], "date")
            if given > now:
                raise BadRow("date is in the future")
            if not 1 <= len(institution) <= 60:
                raise BadRow("institution must be 1 to 60 characters")
            day = local(given).date().isoformat()
            return self.profiles.doc_index(doc_type, number), Dose(int(dose), vaccine, day, institution)

        def queue(pipe: Pipeline, row: tuple[str, Dose]) -> None:
            self.registry.queue_add(pipe, *row)

        return CsvImport(("doc_type", "doc_no", "dose", "vaccine", "date", "institution"), 6, parse, queue)


def build(kit: Kit, section: UpstreamSettings) -> VaccinationService:
    registry = VaccinationRegistry(kit.redis, kit.keys, kit.vault, reads=kit.hot)
    provider: VaccinationProvider = (
        HttpVaccinations(kit.http, section.url, section.timeout, section.token) if section.url
        else LocalVaccinations(registry))
    return VaccinationService(registry, provider, kit.profiles)


PLUGIN = Plugin(name="vaccination", service=VaccinationService, build=build,
                imports={"vaccinations": VaccinationService.csv_import}, document_hash=LEAF)
