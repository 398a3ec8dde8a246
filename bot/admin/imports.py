"""Operator commands: colours, travel records, risk cities and test results. CLI only, never over HTTP.

Every CSV import validates each row, reports bad rows with their line numbers without stopping, shows a
progress bar, and writes in pipelined batches.
"""

from __future__ import annotations

import csv
import getpass
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, TextIO, TypeVar

from bot.domain.clock import Clock, parse_local
from bot.domain.colours import HEALTH_COLOURS, TRAVEL_COLOURS
from bot.domain.documents import DOCUMENT_BY_CODE, PHONE_RE, RESIDENT_ID, normalize_number, resident_id_ok
from storage import Pipeline, write_batch
from storage.audit import AuditLog
from storage.connection import RedisClient
from storage.keys import Keys
from storage.profiles import ProfileStore
from storage.results import ResultRegistry, TestResult
from storage.status import StatusRegistry
from storage.travel import WINDOW, TravelRegistry, Visit
from storage.vault import Vault

DOC_TYPES = (RESIDENT_ID, *DOCUMENT_BY_CODE)
BATCH = 500
Row = TypeVar("Row")


class BadRow(ValueError):
    pass


class SkipRow(ValueError):
    """A valid row that is not stored, such as a travel record older than 14 days."""


def document(doc_type: str, doc_number: str, today: date) -> tuple[str, str]:
    doc_type, number = doc_type.strip(), normalize_number(doc_number)
    if doc_type not in DOC_TYPES:
        raise BadRow(f"doc_type {doc_type!r} is not one of {', '.join(DOC_TYPES)}")
    valid = resident_id_ok(number, today) if doc_type == RESIDENT_ID else DOCUMENT_BY_CODE[doc_type].valid(
        number, today)
    if not valid:
        raise BadRow(f"doc_no is not a valid {doc_type} number")
    return doc_type, number


def moment(text: str, column: str) -> float:
    try:
        return parse_local(text)
    except ValueError:
        raise BadRow(f"{column} {text!r} is not YYYY-MM-DD[ HH:MM[:SS]]") from None


@dataclass(frozen=True, slots=True)
class StatusRow:
    doc_type: str
    doc_number: str
    colour: str
    reason: str


def parse_status_row(doc_type: str, doc_number: str, colour: str, reason: str, today: date) -> StatusRow:
    doc_type, number = document(doc_type, doc_number, today)
    colour = colour.strip().lower()
    if colour not in HEALTH_COLOURS:
        raise BadRow(f"colour {colour!r} is not one of {', '.join(HEALTH_COLOURS)}")
    return StatusRow(doc_type, number, colour, reason.strip()[:100])


class Progress:
    """A one-line progress bar on stderr, redrawn at most every 1 %."""

    def __init__(self, total: int, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total, self.out, self.width, self.shown = max(total, 1), out, width, -1

    def update(self, done: int) -> None:
        percent = done * 100 // self.total
        if percent != self.shown:
            self.shown = percent
            filled = self.width * done // self.total
            self.out.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} ({percent}%)")
            self.out.flush()

    def close(self) -> None:
        self.out.write("\n")


@dataclass
class Imported(Generic[Row]):
    stored: list[Row]
    bad: int
    skipped: int


class BadFile(Exception):
    """An import file that cannot be read as UTF-8 text; nothing of it was stored."""


@dataclass
class CsvImport(Generic[Row]):
    header: tuple[str, ...]
    required: int
    parse: Callable[[list[str], float], Row]
    queue: Callable[[Pipeline, Row], None]

    async def run(self, redis: RedisClient, path: Path, now: float, errors: TextIO = sys.stderr,
                  progress: bool = True) -> Imported[Row]:
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                lines = handle.read().splitlines()
        except OSError as exc:
            raise BadFile(f"cannot read {path}: {exc.strerror}; nothing was imported") from None
        except UnicodeDecodeError as exc:
            raise BadFile(f"{path} is not UTF-8 text (byte {exc.start}); nothing was imported") from None
        outcome: Imported[Row] = Imported([], 0, 0)
        bar = Progress(max(len(lines) - 1, 0)) if progress else None
        done = 0
        rows = self._rows(lines, now, errors, outcome)
        while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
            async with write_batch(redis) as pipe:
                for row in batch:
                    done += 1
                    if row is not None:
                        self.queue(pipe, row)
                        outcome.stored.append(row)
                await pipe.execute()
            if bar:
                bar.update(done)
        if bar:
            bar.close()
        return outcome

    def _rows(self, lines: list[str], now: float, errors: TextIO, outcome: Imported[Row]) -> Iterator[Row | None]:
        reader = csv.reader(lines)
        header = tuple(h.strip() for h in next(reader, []))
        if header[: self.required] != self.header[: self.required]:
            errors.write(f"line 1: the header must be {','.join(self.header)}\n")
            return
        for line_no, row in enumerate(reader, start=2):
            try:
                if len(row) < self.required:
                    raise BadRow(f"expected at least {self.required} columns, got {len(row)}")
                yield self.parse(row + [""] * (len(self.header) - len(row)), now)
            except SkipRow:
                outcome.skipped += 1
                yield None
            except BadRow as exc:
                errors.write(f"\nline {line_no}: {exc}\n")
                outcome.bad += 1
                yield None


class Admin:
    def __init__(self, redis: RedisClient, prefix: str, vault: Vault, clock: Clock | None = None) -> None:
        keys = self.keys = Keys(prefix)
        self.redis = redis
        self.vault = vault
        self.profiles = ProfileStore(redis, keys, vault)
        self.status = StatusRegistry(redis, keys)
        self.travel = TravelRegistry(redis, keys, vault)
        self.results = ResultRegistry(redis, keys, vault)
        self.clock = clock or Clock()

    def today(self) -> date:
        return self.clock.now().date()

    async def set_colour_for_positive(self, doc_index: str, colour: str, source: str) -> None:
        """The operator policy `[results] positive_sets_colour`: a 阳性 result sets the code's colour, and the
        audit stream says who, when and why."""
        now = self.clock.time()
        await self.status.set(doc_index, colour, "核酸检测阳性", now)
        await AuditLog(self.redis, self.keys).append("colour", f"operator:{getpass.getuser()}", doc_index[:24],
                                                     repr(now), reason=f"{colour}: 阳性 in {source}")

    async def set_status(self, row: StatusRow) -> None:
        await self.status.set(self.profiles.doc_index(row.doc_type, row.doc_number), row.colour, row.reason,
                              self.clock.time())

    def status_import(self) -> CsvImport[StatusRow]:
        def parse(row: list[str], now: float) -> StatusRow:
            return parse_status_row(row[0], row[1], row[2], row[3], self.today())

        def queue(pipe: Pipeline, row: StatusRow) -> None:
            index = self.profiles.doc_index(row.doc_type, row.doc_number)
            self.status.queue_set(pipe, index, row.colour, row.reason, self.clock.time())

        return CsvImport(("doc_type", "doc_no", "colour", "reason"), 3, parse, queue)

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
                raise BadRow(f"colour {colour!r} is not one of {', '.join(TRAVEL_COLOURS)}")
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
