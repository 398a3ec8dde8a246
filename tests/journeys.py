"""Citizens' journeys through the webhook, shared by the test modules: claiming, binding, travel codes."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

from bot.domain.clock import SHANGHAI
from bot.domain.documents import check_char
from tests.conftest import Bot


def last_code(bot: Bot, phone: str) -> str:
    texts = [m["text"] for m in bot.standin.sms if m["phone"] == phone]
    return re.search(r"\d{6}", texts[-1]).group(0)  # type: ignore[union-attr]


TODAY = datetime(2025, 6, 15, 12, 0, tzinfo=SHANGHAI)  # docs/domain.md §1.5's fixed "today"


ELDER = "11010519491231002X"  # 75


RELATIVE_NAME = "王大明"


AGE_16, AGE_17 = "110101200806160139", "110101200806150248"


AGE_60, AGE_59 = "110101196506150319", "110101196506160429"


AGE_6, AGE_7 = "110101201806160512", "110101201806150621"


LEAP_DAY = "110101201202290172"


def adult(n: int) -> str:
    """A checksum-valid ID of an adult born 1980-01-01, the n-th of them."""
    first17 = f"11010519800101{n:03d}"
    return first17 + check_char(first17)


def elder(n: int) -> str:
    """A distinct, checksum-valid ID of a 75-year-old for each n."""
    first17 = f"11010119500101{n:03d}"
    return first17 + check_char(first17)


async def guardian(bot: Bot, user: str, id_number: str = "110105198001010011") -> None:
    first17 = id_number[:17]
    await full_claim(bot, user, first17 + check_char(first17))


async def up_to_agreement(bot: Bot, user: str, id_number: str, name: str = RELATIVE_NAME) -> list[str]:
    kin = "3" if int(id_number[6:10]) >= 2000 else "1"  # a child as 子女, an elder as 父亲
    return await claim_until(bot, user, ["添加亲属", name, id_number, kin, "确认绑定"])


def link_in(text: str) -> str:
    found = re.search(r"http://\S+/face\?t=\S+", text)
    assert found, text
    return found.group(0)


async def callback(bot: Bot, link: str, result: str) -> int:
    token = parse_qs(urlsplit(link).query)["t"][0]
    response = await bot.client.post("/face/callback", json={"t": token, "result": result})
    await bot.dispatcher.drain()
    return response.status


def sent_to(bot: Bot, user: str) -> list[str]:
    return [m["text"]["content"] for m in bot.standin.messages if m["touser"] == user and m["msgtype"] == "text"]


async def bind(bot: Bot, user: str, id_number: str, name: str = RELATIVE_NAME) -> str:
    """A whole binding, face check included when the relative is 7 or older."""
    prompts = await up_to_agreement(bot, user, id_number, name)
    assert "协议" in prompts[-1]
    reply = await bot.say(user, "同意协议并认证")
    if "人脸识别" in reply:
        assert await callback(bot, link_in(reply), "pass") == 200
        assert "信息认证承诺" in sent_to(bot, user)[-1]
    else:
        assert "信息认证承诺" in reply
    return await bot.say(user, "确认承诺")


ID = "11010519491231002X"


PHONE = "13800001234"


NAME = "张小三"


async def claim_until(bot: Bot, user: str, answers: list[str]) -> list[str]:
    return [await bot.say(user, text) for text in answers]


async def prove_phone(bot: Bot, user: str, phone: str = PHONE) -> str:
    """The claim's SMS step: the code the stand-in gateway received for `phone` ("" for the last SMS of all),
    typed back; the reply."""
    if not phone:
        return await bot.say(user, re.search(r"\d{6}", bot.standin.sms[-1]["text"]).group(0))  # type: ignore[union-attr]
    return await bot.say(user, last_code(bot, phone))


async def full_claim(bot: Bot, user: str, id_number: str = ID) -> dict[str, object]:
    await claim_until(bot, user, ["防疫健康信息码", "同意", NAME, id_number, PHONE])
    await prove_phone(bot, user)
    return await bot.push(bot.sim.text(user, "确认"))


async def assert_nothing_plain(redis: object, prefix: str, secrets: list[str]) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]  # type: ignore[attr-defined]
    assert keys
    for key in keys:
        kind = (await redis.type(key)).decode()  # type: ignore[attr-defined]
        if kind == "string":
            values = [await redis.get(key)]  # type: ignore[attr-defined]
        elif kind == "hash":
            values = [v for pair in (await redis.hgetall(key)).items() for v in pair]  # type: ignore[attr-defined]
        elif kind == "list":
            values = await redis.lrange(key, 0, -1)  # type: ignore[attr-defined]
        elif kind == "set":
            values = list(await redis.smembers(key))  # type: ignore[attr-defined]
        elif kind == "zset":
            values = await redis.zrange(key, 0, -1)  # type: ignore[attr-defined]
        elif kind == "stream":
            values = [v for _, fields in await redis.xrange(key) for pair in fields.items()  # type: ignore[attr-defined]
                      for v in pair]
        else:
            values = []
        blob = key + b"".join(values)
        for secret in secrets:
            assert secret.encode() not in blob, key
