"""Operator commands: set a person's code colour, or import many from CSV. CLI only, never over HTTP."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

import redis.asyncio as aioredis

from bot.config import Settings
from bot.context import Clock
from bot.documents import DOCUMENT_BY_CODE, RESIDENT_ID, normalize_number, resident_id_ok
from bot.pii import Vault
from storage.keys import Keys
from storage.profiles import ProfileStore
from storage.status import COLOURS, StatusRegistry

DOC_TYPES = (RESIDENT_ID, *DOCUMENT_BY_CODE)
BATCH = 500


class BadRow(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StatusRow:
    doc_type: str
    doc_number: str
    colour: str
    reason: str


def parse_status_row(doc_type: str, doc_number: str, colour: str, reason: str, today: date) -> StatusRow:
    doc_type, colour = doc_type.strip(), colour.strip().lower()
    number = normalize_number(doc_number)
    if doc_type not in DOC_TYPES:
        raise BadRow(f"doc_type {doc_type!r} is not one of {', '.join(DOC_TYPES)}")
    valid = resident_id_ok(number, today) if doc_type == RESIDENT_ID else DOCUMENT_BY_CODE[doc_type].valid(
        number, today)
    if not valid:
        raise BadRow(f"doc_no is not a valid {doc_type} number")
    if colour not in COLOURS:
        raise BadRow(f"colour {colour!r} is not one of {', '.join(COLOURS)}")
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


class StatusAdmin:
    def __init__(self, settings: Settings, redis: aioredis.Redis, clock: Clock | None = None) -> None:
        keys = Keys(settings.redis.prefix)
        vault = Vault(settings.security.index_key_bytes(), settings.security.data_key_bytes())
        self.redis = redis
        self.profiles = ProfileStore(redis, keys, vault)
        self.registry = StatusRegistry(redis, keys)
        self.clock = clock or Clock()

    async def set(self, row: StatusRow) -> None:
        index = self.profiles.doc_index(row.doc_type, row.doc_number)
        await self.registry.set(index, row.colour, row.reason, self.clock.time())

    async def import_csv(self, path: Path, errors: TextIO = sys.stderr, progress: bool = True) -> tuple[int, int]:
        """Every valid row is stored; every bad row is reported with its line number. Returns (stored, bad)."""
        with path.open(encoding="utf-8-sig", newline="") as handle:
            lines = handle.read().splitlines()
        bar = Progress(max(len(lines) - 1, 0)) if progress else None
        stored = bad = done = 0
        today = self.clock.now().date()
        for batch in _batches(_rows(lines, today, errors), BATCH):
            async with self.redis.pipeline(transaction=False) as pipe:
                for item in batch:
                    done += 1
                    if isinstance(item, StatusRow):
                        index = self.profiles.doc_index(item.doc_type, item.doc_number)
                        self.registry.queue_set(pipe, index, item.colour, item.reason, self.clock.time())
                        stored += 1
                    else:
                        bad += 1
                await pipe.execute()
            if bar:
                bar.update(done)
        if bar:
            bar.close()
        return stored, bad


def _rows(lines: list[str], today: date, errors: TextIO) -> Iterator[StatusRow | None]:
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    expected = ["doc_type", "doc_no", "colour", "reason"]
    if header[:3] != expected[:3]:
        errors.write(f"line 1: the header must be {','.join(expected)}\n")
        return
    for line_no, row in enumerate(reader, start=2):
        try:
            if len(row) < 3:
                raise BadRow(f"expected at least 3 columns, got {len(row)}")
            yield parse_status_row(row[0], row[1], row[2], row[3] if len(row) > 3 else "", today)
        except BadRow as exc:
            errors.write(f"\nline {line_no}: {exc}\n")
            yield None


def _batches(items: Iterable[StatusRow | None], size: int) -> Iterator[list[StatusRow | None]]:
    batch: list[StatusRow | None] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
