"""CSV imports into a store: every row validated, bad rows reported with their line numbers without stopping,
a progress bar, and writes in pipelined batches. Operator commands run them (bot/admin)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Generic, TextIO, TypeVar

from bot.domain.clock import parse_local
from bot.domain.documents import DOCUMENT_BY_CODE, RESIDENT_ID, normalize_number, resident_id_ok
from storage import Pipeline, write_batch
from storage.connection import RedisClient

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
