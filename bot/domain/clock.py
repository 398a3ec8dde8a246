"""Time as citizens and guards read it: Asia/Shanghai, in the few formats the service shows."""

from __future__ import annotations

import functools
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """Wall time; tests swap in a settable clock."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), SHANGHAI)


class SettableClock(Clock):
    def __init__(self, start: datetime) -> None:
        self._t = start.timestamp()

    def time(self) -> float:
        return self._t

    def set(self, moment: datetime) -> None:
        self._t = moment.timestamp()

    def advance(self, seconds: float) -> None:
        self._t += seconds


def local(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, SHANGHAI)


def to_second(ts: float) -> str:
    """2022-01-05 08:30:00: what a code image, a page or a scan shows."""
    return local(ts).strftime("%Y-%m-%d %H:%M:%S")


def to_minute(ts: float) -> str:
    """2022-01-05 08:30: expiries, sampling and report times."""
    return local(ts).strftime("%Y-%m-%d %H:%M")


def time_of_day(ts: float) -> str:
    return local(ts).strftime("%H:%M:%S")


def travel_stamp(ts: float) -> str:
    """2022.01.05 08:30:00: the travel card's own 更新于 format."""
    return local(ts).strftime("%Y.%m.%d %H:%M:%S")


def parse_local(text: str, *, end: bool = False) -> float:
    """A timestamp from YYYY-MM-DD[ HH:MM[:SS]] in Shanghai time; ValueError otherwise. With `end`, a date
    alone is the last moment of that day (「--to 2026-12-05」 includes the 5th) and a minute its last second."""
    for layout, last in (("%Y-%m-%d %H:%M:%S", 0.0), ("%Y-%m-%d %H:%M", 59.999), ("%Y-%m-%d", 86399.999)):
        try:
            moment = datetime.strptime(text.strip(), layout).replace(tzinfo=SHANGHAI).timestamp()
        except ValueError:
            continue
        return moment + (last if end else 0.0)
    raise ValueError(f"{text!r} is not YYYY-MM-DD[ HH:MM[:SS]]")


def day_minute(ts: float) -> str:
    """12-01 14:30: a time stamped on a code at a venue, short enough to read at a glance."""
    return _day_minute(int(ts // 60))


@functools.lru_cache(maxsize=4)
def _day_minute(minute: int) -> str:  # every scan of a minute stamps the same text: a zone-aware format once
    return local(minute * 60).strftime("%m-%d %H:%M")


_DURATION = re.compile(r"(?:(\d{1,3})h)?(?:(\d{1,5})m(?:in)?)?")


def parse_duration(text: str) -> int:
    """`2h`, `90m`, `1h30m`, `0m` as seconds; ValueError for anything else."""
    found = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or found is None or not any(found.groups()):
        raise ValueError(f"{text!r} is not a duration such as 2h, 30m or 1h30m")
    return int(found.group(1) or 0) * 3600 + int(found.group(2) or 0) * 60
