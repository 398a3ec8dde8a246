"""`trace contacts` and `trace venue` at a city's scale: DAYS × PER_DAY entries over VENUES venues, written
through the storage layer's own path (VenueRegistry.record_holder, the writes a scan's turn carries), and a case
with 30 visits.

    python -m bench.trace_city [--days 28] [--per-day 200000] [--venues 2000] [--people 400000] [--workers 2]

Prints the load's time, Redis memory per entry (used_memory before and after, over the entries written), and
the time of `trace contacts` for the case and of `trace venue` over the busiest hour at the busiest venue: each
in-process (the operation) and as the whole `healthbot admin` command (Python's start-up included). Keys go
under the prefix hbcity-… and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.colour_seed import resident_id
from bot.admin.trace import contacts
from bot.domain.clock import to_second
from bot.engine.services import build_services
from bot.ops.config import load_settings, new_key
from storage.profiles import Person, seal_person
from storage.venues import new_scene

BUSIEST_SHARE = 0.05  # the busiest venue takes this share of every day's entries
CASE_VISITS = 30
CONCURRENCY = 200


def write_config(folder: Path, prefix: str) -> Path:
    path = folder / "city.toml"
    path.write_text(
        f'[wechat]\ntoken = "bench"\napp_id = "wxcity"\napp_secret = "s"\napi_base = "http://127.0.0.1:9"\n'
        f'[redis]\nurl = "redis://127.0.0.1:6379/0"\nprefix = "{prefix}"\n'
        f'[security]\nindex_key = "{new_key()}"\ndata_key = "{new_key()}"\nsigning_keys = "k1:{new_key()}"\n'
        f'active_key_id = "k1"\n[upstreams]\nallow_standins = ["identity", "face", "sms"]\n', encoding="utf-8")
    return path


def day_start(now: float, days_ago: int) -> float:
    """08:00 Shanghai of the day `days_ago` before today."""
    local_midnight = (now + 8 * 3600) // 86400 * 86400 - 8 * 3600
    return local_midnight - days_ago * 86400 + 8 * 3600


async def load_part(config: str, scenes: list[str], people: int, days: int, per_day: int, part: int, parts: int,
                    seed: int) -> int:
    """This process's share of the entries: people chosen at random, the busiest venue weighted."""
    services = build_services(load_settings(config), plugins=[])
    venues, vault, rng = services.venues, services.vault, random.Random(seed + part)
    now, written = time.time(), 0
    chosen = [n for n in range(people) if n % parts == part]
    persons = {}
    try:
        for n in chosen:
            openid = f"oCity{n:023d}"
            person = Person(f"市民{n % 89}", "resident_id", resident_id(n), f"139{n:08d}")
            persons[n] = (openid, vault.index("doc", f"resident_id:{person.doc_number}"),
                          seal_person(vault, openid, person))
        for days_ago in range(days):
            start = day_start(now, days_ago + 1)
            batch = []
            for _ in range(per_day // parts):
                openid, index, sealed = persons[rng.choice(chosen)]
                scene = scenes[0] if rng.random() < BUSIEST_SHARE else rng.choice(scenes)
                at = start + rng.random() * 14 * 3600
                batch.append(venues.record_holder(scene, openid, index, sealed, venues.new_visit(), at))
                if len(batch) == CONCURRENCY:
                    await asyncio.gather(*batch)
                    written, batch = written + len(batch), []
            await asyncio.gather(*batch)
            written += len(batch)
    finally:
        await services.close()
    return written


def run_part(args: tuple[str, list[str], int, int, int, int, int, int]) -> int:
    return asyncio.run(load_part(*args))


async def the_case(config: str, scenes: list[str], days: int, rng: random.Random) -> tuple[str, float]:
    """A case with CASE_VISITS visits over the days, a third of them ended by 离场, two at the busiest venue."""
    services = build_services(load_settings(config), plugins=[])
    venues, vault, now = services.venues, services.vault, time.time()
    openid, person = "oCityCase000000000000000000", Person("病例", "resident_id", resident_id(999_999))
    index, sealed = vault.index("doc", f"resident_id:{person.doc_number}"), seal_person(vault, openid, person)
    busiest_hour = 0.0
    try:
        for n in range(CASE_VISITS):
            scene = scenes[0] if n < 2 else rng.choice(scenes)
            at = day_start(now, 1 + n * (days - 1) // CASE_VISITS) + rng.random() * 12 * 3600
            visit = venues.new_visit()
            await venues.record_holder(scene, openid, index, sealed, visit, at)
            if n % 3 == 0:
                await services.writer.apply(venues.exit_writes(scene, visit, at, at + 40 * 60))
            if n == 0:
                busiest_hour = at
    finally:
        await services.close()
    return person.doc_number, busiest_hour


async def timed(config: str, case_no: str, busiest: str, hour: float, days: int) -> tuple[float, float, int, int]:
    services = build_services(load_settings(config), plugins=[])
    try:
        started = time.perf_counter()
        _, groups = await contacts(services, "resident_id", case_no, days, 1800)
        contacts_s = time.perf_counter() - started
        started = time.perf_counter()
        entries = await services.venues.entries(busiest, hour, hour + 3600, time.time())
        venue_s = time.perf_counter() - started
    finally:
        await services.close()
    return contacts_s, venue_s, sum(len(g.entries) for g in groups), len(entries)


def cli_seconds(*args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "trace", *args], capture_output=True,  # noqa: S603
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - started


async def used_memory(config: str) -> int:
    services = build_services(load_settings(config), plugins=[])
    try:
        return int((await services.redis.info("memory"))["used_memory"])
    finally:
        await services.close()


async def forget(config: str, prefix: str) -> None:
    services = build_services(load_settings(config), plugins=[])
    try:
        batch = []
        async for key in services.redis.scan_iter(match=f"{prefix}:*", count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                await services.redis.unlink(*batch)
                batch = []
        if batch:
            await services.redis.unlink(*batch)
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--per-day", type=int, default=200_000)
    parser.add_argument("--venues", type=int, default=2000)
    parser.add_argument("--people", type=int, default=400_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    prefix = f"hbcity-{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory() as folder:
        config = str(write_config(Path(folder), prefix))
        try:
            asyncio.run(measure(config, args))
        finally:
            asyncio.run(forget(config, prefix))


async def add_venues(config: str, count: int) -> list[str]:
    services = build_services(load_settings(config), plugins=[])
    try:
        scenes = [new_scene() for _ in range(count)]
        for n, scene in enumerate(scenes):
            await services.venues.add(scene, f"场所{n:04d}", "", "", "", time.time())
        return scenes
    finally:
        await services.close()


async def measure(config: str, args: argparse.Namespace) -> None:
    scenes = await add_venues(config, args.venues)
    before = await used_memory(config)
    started = time.perf_counter()
    jobs = [(config, scenes, args.people, args.days, args.per_day, part, args.workers, 7)
            for part in range(args.workers)]
    loop = asyncio.get_running_loop()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        written = sum(await loop.run_in_executor(None, pool.map, run_part, jobs))
    case_no, hour = await the_case(config, scenes, args.days, random.Random(11))
    load_s = time.perf_counter() - started
    after = await used_memory(config)
    entries = written + CASE_VISITS
    print(f"loaded {entries:,} entries ({args.days} days x {args.per_day:,} over {args.venues:,} venues, "
          f"{args.people:,} people) in {load_s:.0f} s through VenueRegistry.record_holder")
    print(f"Redis memory: {(after - before) / entries:.0f} bytes per entry ({(after - before) / 2**20:,.0f} MiB)")
    contacts_s, venue_s, found, in_hour = await timed(config, case_no, scenes[0], hour, args.days)
    print(f"trace contacts, {CASE_VISITS} visits, overlap 30 min: {contacts_s * 1000:.0f} ms in-process, "
          f"{found} contact entries")
    print(f"trace venue, busiest venue, 1 h: {venue_s * 1000:.0f} ms in-process, {in_hour} entries")
    cli = cli_seconds("contacts", "--config", config, "--doc-type", "resident_id", "--doc-no", case_no,
                      "--days", str(args.days))
    window = [to_second(hour), to_second(hour + 3600)]
    cli_venue = cli_seconds("venue", scenes[0], "--config", config, "--from", window[0], "--to", window[1])
    print(f"whole commands (Python start-up included): trace contacts {cli:.2f} s, trace venue {cli_venue:.2f} s")


if __name__ == "__main__":
    main()
