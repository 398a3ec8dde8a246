"""Signed requests for wrk, one per line (`path?query<TAB>body`), with a fresh MsgId and user each; and the
users some paths need, claimed or placed in a dialog beforehand through the webhook.

    python -m bench.signed_requests --url http://127.0.0.1:8080/wechat --path keyword|cached|dialog|venue
           --out FILE [--token T] [--aes-key K --app-id A] [--count 40000] [--users 500] [--scene venue:…]

`venue` is a 场所码 scan (SCAN event) by claimed users at the venue `--scene` (`healthbot admin venue add`):
each records an entry and re-sends the stamped image, which is cached within the minute of the stamp.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import zlib
from datetime import date, timedelta
from urllib.parse import urlencode, urlsplit

import aiohttp

from bench.load import fixture_id
from bot.devkit.simulator import Simulator


def person(tag: str, n: int) -> tuple[str, str]:
    """User n's ID number and phone, different for each tag: a second account claiming a document another one
    holds is a takeover (face verification), and a phone gets at most 5 SMS codes an hour, so every path and
    round of a run claims its own people (birth dates 1960-1987, phones 13X-XXX-NNNNN by the tag's hash)."""
    h = zlib.crc32(tag.encode())
    born = date(1960, 1, 1) + timedelta(days=h % 10000)
    return fixture_id(f"110101{born:%Y%m%d}", n), f"13{h % 10}{h // 10 % 1000:03d}{n:05d}"


async def prepare(sim: Simulator, url: str, users: list[str], steps: list[str], scene: str = "",
                  tag: str = "") -> None:
    """Each user says `steps` in turn; with a scene, scans it once at the end (the image is then cached).
    {CODE} is the SMS code the stand-in WeChat API ($HB_STANDIN) received for the user's phone."""
    standin = os.environ.get("HB_STANDIN", "http://127.0.0.1:8380")
    async with aiohttp.ClientSession() as http:
        async def code(phone: str) -> str:
            async with http.get(f"{standin}/_standin/sms") as response:
                texts = [m["text"] for m in (await response.json())["sms"] if m["phone"] == phone]
            return re.findall(r"\d{6}", texts[-1])[0] if texts else "000000"

        async def one(n: int, openid: str) -> None:
            id_number, phone = person(tag, n)
            for text in [*steps, *(["{SCAN}"] if scene else [])]:
                text = text.replace("{ID}", id_number).replace("{PHONE}", phone)
                text = await code(phone) if text == "{CODE}" else text
                xml = sim.event(openid, "SCAN", scene, create_time=1) if text == "{SCAN}" else sim.text(openid, text)
                push = sim.sign(xml)
                async with http.post(url, params=push.params, data=push.body) as response:
                    await response.read()

        for start in range(0, len(users), 64):
            await asyncio.gather(*(one(start + i, u) for i, u in enumerate(users[start:start + 64])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", choices=["keyword", "cached", "dialog", "venue"], required=True)
    parser.add_argument("--scene", default="", help="the venue for --path venue")
    parser.add_argument("--out", required=True)
    parser.add_argument("--token", default="bench-token")
    parser.add_argument("--aes-key", default="")
    parser.add_argument("--app-id", default="wx2c2769f8efd9abc2")
    parser.add_argument("--count", type=int, default=40000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    sim = Simulator(args.token, args.aes_key, args.app_id)
    path = urlsplit(args.url).path
    tag = args.tag or args.path
    pool = [f"oB{tag}_{n:05d}" for n in range(args.users)]
    if args.path == "cached":
        asyncio.run(prepare(sim, args.url, pool, ["防疫健康信息码", "同意", "张小三", "{ID}", "{PHONE}", "{CODE}",
                                                  "确认", "防疫健康信息码"], tag=tag))
    elif args.path == "venue":
        if not args.scene:
            raise SystemExit("--path venue needs --scene")
        asyncio.run(prepare(sim, args.url, pool, ["防疫健康信息码", "同意", "张小三", "{ID}", "{PHONE}", "{CODE}",
                                                  "确认"], args.scene, tag=tag))
    elif args.path == "dialog":
        asyncio.run(prepare(sim, args.url, pool, ["防疫健康信息码", "同意", "张小三"], tag=tag))
    with open(args.out, "w", encoding="utf-8") as out:
        for i in range(args.count):
            if args.path == "keyword":
                openid, text = f"oBkw{tag}_{i:07d}", "防疫健康信息码"
            elif args.path in ("cached", "venue"):
                openid, text = pool[i % len(pool)], "防疫健康信息码"
            else:  # the ID step, then back to it: each ID is validated and the state written
                openid = pool[i % len(pool)]
                n = pool.index(openid)
                text = person(tag, n)[0] if (i // len(pool)) % 2 == 0 else "返回"
            # A scan is an event: its CreateTime is what tells two scans apart (dedup), so each is distinct.
            xml = sim.event(openid, "SCAN", args.scene, create_time=2 + i) if args.path == "venue" else \
                sim.text(openid, text)
            push = sim.sign(xml)
            body = push.body.decode()
            if "\t" in body or "\n" in body:
                raise SystemExit("a request body contains a tab or newline; the wrk file format cannot hold it")
            out.write(f"{path}?{urlencode(push.params)}\t{body}\n")


if __name__ == "__main__":
    main()
