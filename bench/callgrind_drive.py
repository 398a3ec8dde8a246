"""Post a wrk request file (`path?query<TAB>body` per line) to a server running under callgrind, 32 at a time:
WARM requests, a callgrind dump, N requests, another dump. The second dump holds exactly the N requests.

    python -m bench.callgrind_drive --url http://127.0.0.1:8397 --file REQS --warm 400 --n 2000 --pid PID

Prints the number of answers that were not HTTP 200 (a correct run prints 0).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess

import aiohttp

CONCURRENCY = 32


async def post_lines(http: aiohttp.ClientSession, base: str, lines: list[str]) -> int:
    pending, refused = iter(lines), 0

    async def connection() -> None:
        nonlocal refused
        for line in pending:
            query, body = line.split("\t", 1)
            async with http.post(base + query, data=body.encode(), headers={"Content-Type": "text/xml"}) as reply:
                await reply.read()
                refused += reply.status != 200

    await asyncio.gather(*(connection() for _ in range(CONCURRENCY)))
    return refused


async def drive(base: str, lines: list[str], warm: int, n: int, pid: int) -> int:
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await post_lines(http, base, lines[:warm])
        subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)  # noqa: S603,S607
        refused = await post_lines(http, base, lines[warm:warm + n])
        subprocess.run(["callgrind_control", "--dump", str(pid)], check=True, capture_output=True)  # noqa: S603,S607
    return refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--warm", type=int, default=400)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--pid", type=int, required=True)
    args = parser.parse_args()
    with open(args.file, encoding="utf-8") as requests:
        lines = requests.read().splitlines()
    if len(lines) < args.warm + args.n:
        raise SystemExit(f"{args.file} has {len(lines)} requests; {args.warm + args.n} are needed")
    print(asyncio.run(drive(args.url.rstrip("/"), lines, args.warm, args.n, args.pid)))


if __name__ == "__main__":
    main()
