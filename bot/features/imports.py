"""CSV imports into a store: every row validated, bad rows reported with their line numbers without stopping,
a progress bar, and writes in pipelined batches. Operator commands run them (bot/admin)."""

from __future__ import annotations

import csv
import stat
import sys
from collections.abc import Awaitable, Callable, Iterator
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
LINE_LIMIT = 4096  # characters in one line of an import; no row of any import comes near
Row = TypeVar("Row")


class BadRow(ValueError):
    pass


class SkipRow(ValueError):
    """A valid row that is not stored, such as a travel record older than 14 days."""


def quoted(value: str) -> str:
    """A refused value as a refusal may show it: whole when short, else its ends only. A file with its columns
    swapped puts ID numbers and phones where a colour or a type belongs, and stderr goes to logs."""
    value = value.strip()
    return repr(value) if len(value) <= 6 else f"{value[:2]!r}…{value[-2:]!r} ({len(value)} characters)"


def document(doc_type: str, doc_number: str, today: date) -> tuple[str, str]:
    doc_type, number = doc_type.strip(), normalize_number(doc_number)
    if doc_type not in DOC_TYPES:
        raise BadRow(f"doc_type {quoted(doc_type)} is not one of {', '.join(DOC_TYPES)}")
    valid = resident_id_ok(number, today) if doc_type == RESIDENT_ID else DOCUMENT_BY_CODE[doc_type].valid(
        number, today)
    if not valid:
        raise BadRow(f"doc_no is not a valid {doc_type} number")
    return doc_type, number


def moment(text: str, column: str) -> float:
    try:
        return parse_local(text)
    except ValueError:
        raise BadRow(f"{column} {quoted(text)} is not YYYY-MM-DD[ HH:MM[:SS]]") from None


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


def count_lines(path: Path) -> int:
    """The file's lines, read in bounded pieces; BadFile when it is not a regular file of UTF-8 text whose every
    line is under LINE_LIMIT (so /dev/zero or a 30 MB line is refused without filling memory)."""
    count = 0
    for _ in read_lines(path):
        count += 1
    return count


def read_lines(path: Path) -> Iterator[str]:
    """Each line of the file, never more than LINE_LIMIT characters held; BadFile for anything else."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # /dev/zero, a pipe: no end to read to
            raise BadFile(f"{path} is not a regular file; nothing was imported")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            number = 0
            while line := handle.readline(LINE_LIMIT + 1):
                number += 1
                if len(line) > LINE_LIMIT and not line.endswith(("\n", "\r")):
                    raise BadFile(f"line {number} of {path} is over {LINE_LIMIT} characters: not a file for this "
                                  "import; nothing was imported")
                yield line.rstrip("\r\n")
    except OSError as exc:
        raise BadFile(f"cannot read {path}: {exc.strerror}; nothing was imported") from None
    except UnicodeDecodeError as exc:
        raise BadFile(f"{path} is not UTF-8 text (byte {exc.start}); nothing was imported") from None


class BadFile(Exception):
    """An import file that cannot be read as UTF-8 text; nothing of it was stored."""


@dataclass
class CsvImport(Generic[Row]):
    header: tuple[str, ...]
    required: int
    parse: Callable[[list[str], float], Row]
    queue: Callable[[Pipeline, Row], None]
    # An import whose rows are written by a service of its own (a change of colour) rather than queued: each
    # batch's valid rows, after its pipeline.
    flush: Callable[[list[Row]], Awaitable[object]] | None = None

    async def run(self, redis: RedisClient, path: Path, now: float, errors: TextIO = sys.stderr,
                  progress: bool = True) -> Imported[Row]:
        total = count_lines(path)  # the whole file is checked before a row is stored
        outcome: Imported[Row] = Imported([], 0, 0)
        bar = Progress(max(total - 1, 0)) if progress else None
        done = 0
        rows = self._rows(read_lines(path), now, errors, outcome)
        while batch := [row for _, row in zip(range(BATCH), rows, strict=False)]:
            valid = [row for row in batch if row is not None]
            async with write_batch(redis) as pipe:
                for row in valid:
                    self.queue(pipe, row)
                await pipe.execute()
            if self.flush is not None:
                await self.flush(valid)
            outcome.stored.extend(valid)
            done += len(batch)
            if bar:
                bar.update(done)
        if bar:
            bar.close()
        return outcome

    def _rows(self, lines: Iterator[str], now: float, errors: TextIO, outcome: Imported[Row]) -> Iterator[Row | None]:
        header = tuple(h.strip() for h in next(csv.reader([next(lines, "")]), []))
        if header[: self.required] != self.header[: self.required]:
            errors.write(f"line 1: the header must be {','.join(self.header)}\n")
            return
        for line_no, line in enumerate(lines, start=2):
            try:
                try:
                    row = next(csv.reader([line]), [])
                except csv.Error as exc:
                    raise BadRow(f"not a CSV row ({exc})") from None
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
