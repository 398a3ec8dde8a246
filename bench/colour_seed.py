"""People who have claimed their code, written straight to Redis (as the claim dialog leaves them), and the
status import that turns each of them red: for bench/colour_notices.sh.

    python -m bench.colour_seed --config healthbot.toml --people 100000 --out status.csv
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date, timedelta

from bot.domain.documents import check_char
from bot.engine.services import build_services
from bot.ops.config import load_settings
from storage.profiles import Person

BATCH = 500


def resident_id(n: int) -> str:
    """A distinct, checksum-valid resident ID for each n: a thousand a birth date from 1950-01-01."""
    born = date(1950, 1, 1) + timedelta(days=n // 1000)
    first17 = f"110101{born:%Y%m%d}{n % 1000:03d}"
    return first17 + check_char(first17)


async def seed(config: str, people: int, out: str) -> None:
    services = build_services(load_settings(config), plugins=[])
    profiles, now = services.codes.profiles, time.time()
    started = time.monotonic()
    try:
        for start in range(0, people, BATCH):
            async def one(n: int) -> None:
                person = Person(f"测试{n % 97}人", "resident_id", resident_id(n), f"139{n:08d}")
                openid = f"oColour_{n:07d}"
                await profiles.take(profiles.doc_index("resident_id", person.doc_number), openid, takeover=False)
                await profiles.save(openid, person, now, now)

            await asyncio.gather(*(one(n) for n in range(start, min(start + BATCH, people))))
    finally:
        await services.close()
    with open(out, "w", encoding="utf-8") as csv:
        csv.write("doc_type,doc_no,colour,reason_code,reason\n")
        csv.writelines(f"resident_id,{resident_id(n)},red,contact,\n" for n in range(people))
    print(f"seeded {people} claimed people in {time.monotonic() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    asyncio.run(seed(args.config, args.people, args.out))


if __name__ == "__main__":
    main()
