"""Redis memory per claimed citizen with two relatives, through the real storage layer.

    python -m bench.memory [--url redis://127.0.0.1:6379/0] [--users 400] [--listpack-value 128]

Prints bytes per citizen (MEMORY USAGE summed over every key the citizens own, the relatives' guardian
entries and the documents' holder keys included, then by kind of key), bytes per audit entry, and bytes per
venue entry (场所码: the sealed record in the venue's day set and the document's visit index, 20 venues, each
citizen entering five times). Keys go under the prefix hbmem-… and are deleted afterwards.

With --listpack-value N the run sets Redis's hash-max-listpack-value to N (and puts the old value back): a
profile's sealed identity (~114 bytes) and a relative's (~113) exceed Redis's default of 64, which turns
those hashes into hash tables; deploy/redis.conf sets 128.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import time
from collections import Counter

from bench.load import fixture_id
from storage.connection import connect
from storage.keys import Keys
from storage.profiles import Person, ProfileStore, seal_person
from storage.relatives import RelativeStore
from storage.vault import Vault
from storage.venues import VenueRegistry, new_scene


async def measure(url: str, users: int, listpack_value: int = 0) -> None:
    redis = connect(url)
    old = (await redis.config_get("hash-max-listpack-value"))["hash-max-listpack-value"]
    if listpack_value:
        await redis.config_set("hash-max-listpack-value", listpack_value)
    print(f"hash-max-listpack-value={listpack_value or old}")
    prefix = f"hbmem-{secrets.token_hex(3)}"
    keys, vault = Keys(prefix), Vault(secrets.token_bytes(32), secrets.token_bytes(32))
    profiles = ProfileStore(redis, keys, vault)
    relatives = RelativeStore(redis, keys, vault, max_per_user=8, max_guardians=3, unbind_after=86400)
    try:
        now = time.time()
        for n in range(users):
            openid = f"o{secrets.token_urlsafe(21)}"  # as long as a real openid (28 characters)
            profile = await profiles.save(openid, Person("张小三", "resident_id", fixture_id("11010519800101", n),
                                                         f"138{n:08d}"), now)
            await profiles.take(profile.doc_index, openid, takeover=False)  # the document's holder, as a claim
            for r in range(2):
                outcome = await relatives.bind(openid, "王大明", fixture_id("11010119500101", 2 * n + r), "父亲", now)
                if outcome.result != "ok":
                    raise SystemExit(f"binding refused: {outcome}")
        total, audit, kinds = 0, 0, Counter[str]()
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            size = int(await redis.memory_usage(key, samples=0) or 0)
            if key == keys.audit().encode():
                audit = size
            else:
                total += size
                kinds[re.sub(r"\{[^}]*\}", "{…}", key.decode()[len(prefix):])] += size
        entries = await redis.xlen(keys.audit())
        print(f"users={users}  bytes per citizen with 2 relatives={total / users:,.0f}  "
              f"bytes per audit entry={audit / entries:,.0f} ({entries} entries)")
        for kind, size in kinds.most_common():  # where a citizen's bytes go, by the key's shape
            print(f"    {kind:<28} {size / users:7,.0f}")
        venues = VenueRegistry(redis, keys, vault, retention_days=28)
        scenes = [new_scene() for _ in range(20)]
        for n in range(users):  # a holder's own entries, as most scans make them
            openid, person = f"o{secrets.token_urlsafe(21)}", Person(
                "张小三", "resident_id", fixture_id("11010519800101", n), f"138{n:08d}")
            index, sealed = vault.index("doc", f"resident_id:{person.doc_number}"), seal_person(vault, openid, person)
            for visit in range(5):
                await venues.record_holder(scenes[(n + visit) % 20], openid, index, sealed, venues.new_visit(),
                                           now + n + visit * 600)
        entry_bytes = 0
        for pattern in (f"{prefix}:v:*:in:*", f"{prefix}:d:*:visits", f"{prefix}:u:*:traced:*"):
            async for key in redis.scan_iter(match=pattern, count=1000):
                entry_bytes += int(await redis.memory_usage(key, samples=0) or 0)
        print(f"bytes per venue entry={entry_bytes / (5 * users):,.0f} ({5 * users} entries at 20 venues)")
    finally:
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
            await redis.delete(key)
        if listpack_value:
            await redis.config_set("hash-max-listpack-value", old)
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--users", type=int, default=400)  # distinct fixture IDs: 2 × users ≤ 1000
    parser.add_argument("--listpack-value", type=int, default=0, help="hash-max-listpack-value for the run")
    args = parser.parse_args()
    asyncio.run(measure(args.url, args.users, args.listpack_value))


if __name__ == "__main__":
    main()
