"""Operator commands: colours, travel records, risk cities and test results. CLI only, never over HTTP.

Each CSV import is a bot.features.imports.CsvImport: rows validated, bad ones reported by line, batched.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import date

from bot.admin.notify import notify_results
from bot.domain.colours import HEALTH_COLOURS, TRAVEL_COLOURS
from bot.domain.documents import PHONE_RE, normalize_number
from bot.engine.services import Services
from bot.features.imports import BadRow, CsvImport, Imported, SkipRow, document, moment, quoted
from bot.features.status import Reasons, UnknownReason
from storage import Pipeline
from storage.results import TestResult
from storage.travel import WINDOW, Visit


@dataclass(frozen=True, slots=True)
class StatusRow:
    doc_type: str
    doc_number: str
    colour: str
    code: str
    text: str


def parse_status_row(doc_type: str, doc_number: str, colour: str, code: str, text: str, today: date,
                     reasons: Reasons) -> StatusRow:
    doc_type, number = document(doc_type, doc_number, today)
    colour = colour.strip().lower()
    if colour not in HEALTH_COLOURS:
        raise BadRow(f"colour {quoted(colour)} is not one of {', '.join(HEALTH_COLOURS)}")
    try:
        code = reasons.check(colour, code)
    except UnknownReason as exc:
        raise BadRow(str(exc)) from None
    return StatusRow(doc_type, number, colour, code, text.strip()[:100])


class Admin:
    """The operator's view of the services: the registries they load and the colours they set."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.vault = services.vault
        self.profiles = services.codes.profiles
        self.travel = services.travel.registry
        self.results = services.results.registry
        self.clock = services.clock

    def today(self) -> date:
        return self.clock.now().date()

    async def set_colour_for_positive(self, doc_indexes: list[str], colour: str, source: str) -> None:
        """The operator policy `[results] positive_sets_colour`: a 阳性 result sets the code's colour (reason
        `positive`, channel rule), told and audited as every change is."""
        status = self.services.status
        asked = [(index, status.ask(colour, "positive", "rule", f"results:{source}")) for index in doc_indexes]
        await status.change_many(asked)

    def parse_status(self, doc_type: str, doc_number: str, colour: str, code: str, text: str) -> StatusRow:
        return parse_status_row(doc_type, doc_number, colour, code, text, self.today(), self.services.status.reasons)

    async def set_status(self, row: StatusRow) -> str | None:
        """The colour it was, or None when it already was this one."""
        return await self.services.status.change(self.profiles.doc_index(row.doc_type, row.doc_number), row.colour,
                                                 row.code, "operator", f"operator:{getpass.getuser()}",
                                                 text=row.text)

    def status_import(self, source: str) -> CsvImport[StatusRow]:
        status = self.services.status

        def parse(row: list[str], now: float) -> StatusRow:
            return self.parse_status(row[0], row[1], row[2], row[3], row[4])

        async def flush(rows: list[StatusRow]) -> None:
            await status.change_many([(self.profiles.doc_index(row.doc_type, row.doc_number),
                                       status.ask(row.colour, row.code, "import", f"import:{source}", text=row.text))
                                      for row in rows])

        return CsvImport(("doc_type", "doc_no", "colour", "reason_code", "reason"), 4, parse,
                         lambda pipe, row: None, flush)

    def travel_import(self) -> CsvImport[tuple[str, Visit, str]]:
        def parse(row: list[str], now: float) -> tuple[str, Visit, str]:
            phone = normalize_number(row[0])
            if not PHONE_RE.match(phone):
                raise BadRow("phone is not an 11-digit mobile number")
            city = row[1].strip()
            if not 2 <= len(city) <= 40:
                raise BadRow("city must be 2 to 40 characters")
            at = moment(row[2], "date")
            if at > now + 86400:
                raise BadRow("date is in the future")
            if now - at > WINDOW:
                raise SkipRow("older than 14 days")
            overseas = row[3].strip().lower() in ("1", "true", "yes", "是")
            colour = row[4].strip().lower()
            if colour and colour not in TRAVEL_COLOURS:
                raise BadRow(f"colour {quoted(colour)} is not one of {', '.join(TRAVEL_COLOURS)}")
            return phone, Visit(city, at, overseas), colour

        def queue(pipe: Pipeline, row: tuple[str, Visit, str]) -> None:
            phone, visit, colour = row
            index = self.vault.index("phone", phone)
            self.travel.queue_visit(pipe, index, visit)
            if colour:
                self.travel.queue_colour(pipe, index, colour)

        return CsvImport(("phone", "city", "date", "overseas", "colour"), 3, parse, queue)

    def results_import(self) -> CsvImport[tuple[str, TestResult]]:
        def parse(row: list[str], now: float) -> tuple[str, TestResult]:
            doc_type, number = document(row[0], row[1], self.today())
            result = row[2].strip()
            if result not in ("阴性", "阳性"):
                raise BadRow("result must be 阴性 or 阳性")
            sampled, reported = moment(row[3], "sampled_at"), moment(row[4], "reported_at")
            if reported < sampled:
                raise BadRow("reported_at is before sampled_at")
            if not row[5].strip():
                raise BadRow("institution is empty")
            return self.profiles.doc_index(doc_type, number), TestResult(result, sampled, reported, row[5].strip())

        def queue(pipe: Pipeline, row: tuple[str, TestResult]) -> None:
            self.results.queue_add(pipe, *row)

        header = ("doc_type", "doc_no", "result", "sampled_at", "reported_at", "institution")
        return CsvImport(header, 6, parse, queue)


    async def after_results(self, imported: Imported[tuple[str, TestResult]], source: str) -> list[str]:
        """What `[results]` asks once results are in: codes set for the positives (positive_sets_colour), and
        followers told their results are out (notify_new_results). Lines for the operator."""
        settings, said = self.services.settings.results, []
        if colour := settings.positive_sets_colour:
            positives = sorted({index for index, result in imported.stored if result.result == "阳性"})
            await self.set_colour_for_positive(positives, colour, source)
            said.append(f"set {len(positives)} codes {colour} for positive results ([results] "
                        "positive_sets_colour); audited")
        if settings.notify_new_results and imported.stored:
            sent = await notify_results(self.services, {index for index, _ in imported.stored})
            said.append(f"notified {sent} followers that results are out")
        return said
