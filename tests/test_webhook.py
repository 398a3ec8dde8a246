"""The /wechat endpoint: URL verification, the three message modes, and hostile bodies."""

from __future__ import annotations

import os
import re

import xmltodict

from bot.devkit.simulator import parse_reply
from bot.wechat.signing import wechat_signature
from tests.conftest import AES_KEY, APP_ID, METRICS_AUTH, TOKEN, Bot, BotFactory
from tests.vectors import A_ENCRYPT

USER = "oUser_webhook_0001"


async def test_url_verification_returns_echostr_only_when_signed(bot: Bot) -> None:
    ts, nonce, echo = "1714036504", "1514711492", "4375120948345356249"
    good = {"signature": wechat_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": echo}
    response = await bot.client.get("/wechat", params=good)
    assert response.status == 200 and await response.text() == echo
    for broken in ({**good, "signature": "0" * 40}, {k: v for k, v in good.items() if k != "signature"},
                   {**good, "nonce": "1"}):
        response = await bot.client.get("/wechat", params=broken)
        assert response.status == 403


async def test_plaintext_push_gets_a_text_reply_addressed_back(bot: Bot) -> None:
    reply = await bot.push(bot.sim.text(USER, "帮助"))
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == USER and reply["FromUserName"] == bot.sim.account
    assert "防疫健康信息码" in reply["Content"]


async def test_forged_or_unsigned_push_is_403(bot: Bot) -> None:
    push = bot.sim.sign(bot.sim.text(USER, "帮助"))
    forged = {**push.params, "signature": wechat_signature("wrong-token", push.params["timestamp"], "1")}
    for params in (forged, {k: v for k, v in push.params.items() if k != "signature"}, {}):
        response = await bot.client.post("/wechat", params=params, data=push.body)
        assert response.status == 403


async def test_safe_mode_reply_is_encrypted_and_verifiable(make_bot: BotFactory) -> None:
    bot = await make_bot(aes=True)
    status, body = await bot.post(bot.sim.text(USER, "帮助"))
    assert status == 200
    envelope = xmltodict.parse(body)["xml"]
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert "防疫健康信息码" not in body
    inner = parse_reply(bot.sim.open_reply(body))  # checks MsgSignature, then decrypts
    assert inner["MsgType"] == "text" and "防疫健康信息码" in inner["Content"]


async def test_safe_mode_empty_reply_is_plain_success(make_bot: BotFactory) -> None:
    bot = await make_bot(aes=True)
    status, body = await bot.post(bot.sim.event(USER, "LOCATION", Latitude="30.1", Longitude="120.2"))
    assert (status, body) == (200, "success")


async def test_safe_mode_refuses_a_bad_msg_signature_and_a_plaintext_push(make_bot: BotFactory) -> None:
    bot = await make_bot(aes=True)
    push = bot.sim.sign(bot.sim.text(USER, "帮助"))
    response = await bot.client.post("/wechat", params={**push.params, "msg_signature": "0" * 40}, data=push.body)
    assert response.status == 403
    plain = {k: v for k, v in push.params.items() if k not in ("encrypt_type", "msg_signature")}
    response = await bot.client.post("/wechat", params=plain, data=bot.sim.text(USER, "帮助").encode())
    assert response.status == 403


async def test_compatible_mode_body_with_plaintext_fields_and_encrypt(make_bot: BotFactory) -> None:
    bot = await make_bot(aes=True)
    xml = bot.sim.text(USER, "帮助")
    push = bot.sim.sign(xml)
    encrypt = xmltodict.parse(push.body)["xml"]["Encrypt"]
    compatible = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    response = await bot.client.post("/wechat", params=push.params, data=compatible.encode())
    assert response.status == 200
    assert "防疫健康信息码" in parse_reply(bot.sim.open_reply(await response.text()))["Content"]


async def test_official_sample_push_is_accepted_in_safe_mode(make_bot: BotFactory) -> None:

    bot = await make_bot(aes=True, wechat={"token": "spamtest", "app_id": APP_ID, "encoding_aes_key": AES_KEY},
                         server={"replay_window": 10**10})  # the sample is from 2014
    params = {"timestamp": "1409735669", "nonce": "1320562132", "encrypt_type": "aes",
              "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
              "signature": "16120ec1b8dbb870f510d87ce6bc2463eae6ca1a"}
    body = f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{A_ENCRYPT}]]></Encrypt></xml>"
    response = await bot.client.post("/wechat", params=params, data=body.encode())
    assert response.status == 200
    bot.sim.token = "spamtest"
    reply = parse_reply(bot.sim.open_reply(await response.text()))
    assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs" and "abcdteT" in reply["Content"]


BILLION_LAUGHS = """<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>a</ToUserName><FromUserName>oUser_webhook_0001</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""
XXE = """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>a</ToUserName><FromUserName>oUser_webhook_0001</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>2</MsgId></xml>"""


async def test_xml_attacks_and_malformed_bodies_are_400(bot: Bot) -> None:
    good = bot.sim.text(USER, "帮助")
    bodies = {
        "billion laughs": BILLION_LAUGHS,
        "external entity": XXE,
        "not xml": "hello",
        "truncated": good[:-10],
        "wrong root": good.replace("<xml>", "<root>").replace("</xml>", "</root>"),
        "missing MsgType": good.replace("<MsgType><![CDATA[text]]></MsgType>", ""),
        "missing FromUserName": good.replace(f"<FromUserName><![CDATA[{USER}]]></FromUserName>", ""),
        "duplicated Content": good.replace("</xml>", "<Content><![CDATA[again]]></Content></xml>"),
        "duplicated FromUserName": good.replace("</xml>", "<FromUserName><![CDATA[oOther]]></FromUserName></xml>"),
        "empty": "",
        "CreateTime not 0-9": good.replace("<CreateTime>", "<CreateTime>¹", 1),
        "MsgId not 0-9": good.replace("<MsgId>", "<MsgId>٣", 1),
        "MsgId past 64 bits": re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{2**64}</MsgId>", good),
    }
    for name, body in bodies.items():
        status, text = await bot.post(body)
        assert status == 400, name
        assert "Traceback" not in text and "root:" not in text, name


async def test_the_largest_64_bit_msgid_is_a_message(bot: Bot) -> None:
    largest = re.sub(r"<MsgId>\d+</MsgId>", f"<MsgId>{2**64 - 1}</MsgId>", bot.sim.text(USER, "帮助"))
    status, body = await bot.post(largest)
    assert status == 200 and "防疫健康信息码" in parse_reply(body)["Content"]
    assert await bot.post(largest) == (200, body)  # WeChat's retry: the same MsgId, the first reply


async def test_oversized_body_is_413(bot: Bot) -> None:
    status, _ = await bot.post(bot.sim.text(USER, "x" * (70 * 1024)))
    assert status == 413


async def test_cdata_injection_in_echoed_text_cannot_change_the_reply(bot: Bot) -> None:
    attack = "a]]></Content><MsgType>image</MsgType><Content><![CDATA[b"
    status, body = await bot.post(bot.sim.text(USER, attack))
    assert status == 200
    reply = parse_reply(body)
    assert reply["MsgType"] == "text"
    assert isinstance(reply["Content"], str) and attack in reply["Content"]
    assert set(reply) == {"ToUserName", "FromUserName", "CreateTime", "MsgType", "Content"}


async def test_healthz_reports_redis_and_the_worker_to_operators_only(bot: Bot) -> None:
    response = await bot.client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok", "redis": True}
    operator = await bot.client.get("/healthz", headers=METRICS_AUTH)
    assert await operator.json() == {"status": "ok", "redis": True, "worker": os.getpid()}
