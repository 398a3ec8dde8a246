"""Hostile input: replays, floods and fuzzed pushes get 200, 400, 403, 413 or 429, and nothing else."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections import Counter
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.wechat.signing import wechat_signature
from tests.conftest import TOKEN, Bot, BotFactory, describe
from tests.journeys import (
    ELDER,
    guardian,
    link_in,
    up_to_agreement,
)

USER = "oSecurity_0001"


async def test_a_signed_query_cannot_carry_a_second_body(bot: Bot) -> None:
    ts, nonce = str(int(time.time())), "424242"
    first = bot.sim.text(USER, "帮助")
    assert (await bot.post(first, timestamp=ts, nonce=nonce))[0] == 200
    assert (await bot.post(first, timestamp=ts, nonce=nonce))[0] == 200  # WeChat's own retry: same body
    forged = bot.sim.text(USER, "注销健康码")
    assert (await bot.post(forged, timestamp=ts, nonce=nonce))[0] == 403


async def test_stale_and_future_timestamps_are_refused(make_bot: BotFactory) -> None:
    bot = await make_bot(server={"replay_window": 60})
    xml = bot.sim.text(USER, "帮助")
    for skew in (-61, 61):
        assert (await bot.post(xml, timestamp=str(int(time.time()) + skew)))[0] == 403
    assert (await bot.post(xml, timestamp=str(int(time.time()) - 30)))[0] == 200
    assert (await bot.post(xml, timestamp="yesterday"))[0] == 403
    now = str(int(time.time()))
    for digits in ("¹" + now[1:], now.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))):
        assert (await bot.post(xml, timestamp=digits))[0] == 403, digits


async def test_a_flood_from_one_user_gets_a_polite_text_and_others_are_served(make_bot: BotFactory) -> None:
    bot = await make_bot(limits={"messages_burst": 5, "messages_per_minute": 6})
    replies = [await bot.say("oFlood_0001", "帮助") for _ in range(8)]
    assert replies[:5] == [replies[0]] * 5 and "回复以下关键词" in replies[0]
    assert replies[5:] == ["您发送得太快了，请稍等片刻再发。"] * 3
    assert "回复以下关键词" in await bot.say("oFlood_0002", "帮助")
    retry = bot.sim.text("oFlood_0003", "帮助")
    await bot.push(retry)
    for _ in range(10):  # retries of one push are not new messages
        assert "回复以下关键词" in describe(await bot.push(retry))


async def test_face_links_are_limited_per_user(make_bot: BotFactory) -> None:
    bot = await make_bot(limits={"face_links_per_hour": 2})
    user = "oFlood_0004"
    await guardian(bot, user)
    await up_to_agreement(bot, user, ELDER)
    assert link_in(await bot.say(user, "同意协议并认证"))  # the first link counts too: 2 an hour means 2
    assert link_in(await bot.say(user, "重新认证"))
    assert "过于频繁" in await bot.say(user, "重新认证")


async def test_verify_is_limited_per_client_address(make_bot: BotFactory) -> None:
    bot = await make_bot(limits={"verify_per_minute": 3})
    statuses = [(await bot.client.get("/verify", params={"t": "v1.x.y.z", "format": "json"})).status
                for _ in range(5)]
    assert statuses == [403, 403, 403, 429, 429]


async def test_face_callback_floods_change_nothing(bot: Bot) -> None:
    user = "oFlood_0005"
    await guardian(bot, user)
    await up_to_agreement(bot, user, ELDER)
    token = parse_qs(urlsplit(link_in(await bot.say(user, "同意协议并认证"))).query)["t"][0]
    statuses = await asyncio.gather(*(bot.client.post("/face/callback", json={"t": token, "result": "pass"})
                                      for _ in range(10)))
    assert sorted(r.status for r in statuses) == [200] + [403] * 9  # single use, even when raced
    await bot.dispatcher.drain()
    commitments = [m for m in bot.standin.messages if m["touser"] == user]
    assert len(commitments) == 1


# -- fuzzing the webhook -----------------------------------------------------------------------------------

ALLOWED = {200, 400, 403, 413, 429}
# Locally: HEALTHBOT_FUZZ_EXAMPLES=10000 HEALTHBOT_FUZZ_ENCRYPTED=5000 (CI runs the defaults).
PLAIN_EXAMPLES = int(os.environ.get("HEALTHBOT_FUZZ_EXAMPLES", "400"))
ENCRYPTED_EXAMPLES = int(os.environ.get("HEALTHBOT_FUZZ_ENCRYPTED", "300"))
huge_digits = st.integers(19, 6000).map(lambda n: "9" * n)  # past 64 bits, and past Python's int() limit
FIELDS = ["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event", "EventKey",
          "Encrypt", "!DOCTYPE", "xml"]
VALID = ("<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[oFuzz_0001]]></FromUserName>"
         "<CreateTime>1795400000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content>"
         "<MsgId>{}</MsgId></xml>")
mutated_push = st.tuples(st.integers(1, 10**12), st.integers(0, 260), st.text(max_size=3)).map(
    lambda t: (lambda v: v[: t[1]] + t[2] + v[t[1] + len(t[2]):])(VALID.format(t[0])))
xml_text = st.one_of(
    mutated_push,
    st.integers(1, 10**12).map(VALID.format),
    huge_digits.map(VALID.format),  # a huge MsgId
    huge_digits.map(lambda n: VALID.format(1).replace("<CreateTime>1795400000", f"<CreateTime>{n}")),
    st.text(max_size=300),
    st.lists(st.tuples(st.sampled_from(FIELDS), st.text(max_size=40), st.booleans()), max_size=12).map(
        lambda parts: "<xml>" + "".join(f"<{n}>{'<![CDATA[' + v + ']]>' if c else v}</{n}>" for n, v, c in parts)
        + "</xml>"),
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
)


class Tally:
    cases = 0
    statuses: ClassVar[Counter[int]] = Counter()


async def fuzz_once(bot: Bot, body: str, query: dict[str, str], signed: bool, encoding: str) -> None:
    ts, nonce = str(int(time.time())), query.get("nonce", "1")
    params = dict(query)
    if signed:
        params.update(timestamp=ts, nonce=nonce, signature=wechat_signature(TOKEN, ts, nonce))
    try:
        data = body.encode(encoding)
    except UnicodeEncodeError:
        data = body.encode("utf-8", "replace")
    response = await bot.client.post("/wechat", params=params, data=data,
                                     headers={"Content-Type": "text/xml; charset=" + encoding})
    Tally.cases += 1
    Tally.statuses[response.status] += 1
    assert response.status in ALLOWED, (response.status, body[:80], params)


async def test_fuzzed_pushes_get_only_expected_statuses(bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    query = st.dictionaries(st.sampled_from(["timestamp", "nonce", "signature", "encrypt_type", "msg_signature",
                                             "echostr", "openid"]), st.one_of(st.text(max_size=20), huge_digits),
                            max_size=5)

    @settings(max_examples=PLAIN_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=xml_text, query=query, signed=st.booleans(), encoding=st.sampled_from(["utf-8", "gbk", "latin-1"]))
    def run(body: str, query: dict[str, str], signed: bool, encoding: str) -> None:
        asyncio.run_coroutine_threadsafe(fuzz_once(bot, body, query, signed, encoding), loop).result(30)

    await loop.run_in_executor(None, run)
    assert (await bot.client.get("/healthz")).status == 200  # still up
    print(f"\nfuzzed plaintext pushes: {Tally.cases} cases, statuses {dict(Tally.statuses)}")


async def test_fuzzed_encrypted_envelopes_get_only_expected_statuses(make_bot: BotFactory) -> None:
    bot = await make_bot(aes=True)
    loop = asyncio.get_running_loop()
    cipher = bot.sim.cipher
    assert cipher is not None
    tally: Counter[int] = Counter()

    async def once(encrypt: str, well_signed: bool) -> None:
        ts, nonce = str(int(time.time())), "7"
        signature = wechat_signature(TOKEN, ts, nonce, encrypt) if well_signed else "0" * 40
        params = {"timestamp": ts, "nonce": nonce, "encrypt_type": "aes", "msg_signature": signature,
                  "signature": wechat_signature(TOKEN, ts, nonce)}
        body = f"<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        response = await bot.client.post("/wechat", params=params, data=body.encode())
        tally[response.status] += 1
        assert response.status in ALLOWED, (response.status, encrypt[:40])

    valid = cipher.encrypt(bot.sim.text(USER, "帮助"))
    mutations = st.one_of(
        st.binary(min_size=1, max_size=300).map(lambda b: base64.b64encode(b).decode()),
        st.integers(0, len(valid) - 1).flatmap(
            lambda i: st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ+/=").map(lambda c: valid[:i] + c + valid[i + 1:])),
        st.integers(4, len(valid)).map(lambda n: valid[:n]),
        st.builds(lambda inner: cipher.encrypt(inner), xml_text),
    )

    @settings(max_examples=ENCRYPTED_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(encrypt=mutations, well_signed=st.booleans())
    def run(encrypt: str, well_signed: bool) -> None:
        asyncio.run_coroutine_threadsafe(once(encrypt, well_signed), loop).result(30)

    await loop.run_in_executor(None, run)
    assert (await bot.client.get("/healthz")).status == 200
    print(f"\nfuzzed encrypted envelopes: {sum(tally.values())} cases, statuses {dict(tally)}")


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), huge_digits),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["t", "result", "x"]), inner,
                                                                         max_size=3)),
    max_leaves=8)


async def test_fuzzed_json_on_every_json_endpoint_gets_a_clear_4xx(bot: Bot,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """/face/callback is the one endpoint that reads JSON: anything but a valid single-use token is refused."""
    loop = asyncio.get_running_loop()
    tally: Counter[int] = Counter()

    async def once(value: object, raw: bool) -> None:
        body = json.dumps(value) if not raw else str(value)
        response = await bot.client.post("/face/callback", data=body, headers={"Content-Type": "application/json"})
        tally[response.status] += 1
        assert response.status in (400, 403), (response.status, body[:80])

    @settings(max_examples=PLAIN_EXAMPLES // 2, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(value=json_values, raw=st.booleans())
    def run(value: object, raw: bool) -> None:
        asyncio.run_coroutine_threadsafe(once(value, raw), loop).result(30)

    await loop.run_in_executor(None, run)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    print(f"\nfuzzed JSON bodies: {sum(tally.values())} cases, statuses {dict(tally)}")
