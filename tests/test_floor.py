"""The benchmark's floor is a correct webhook of its own: it shares no code with healthbot, and it answers a
signed push (plaintext and safe mode) with a reply WeChat could read, and refuses what healthbot refuses."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.devkit.simulator import Simulator, parse_reply
from tests.conftest import AES_KEY, APP_ID

FLOOR = Path(__file__).resolve().parent.parent / "bench" / "floor.py"


def test_the_floor_imports_nothing_of_ours() -> None:
    assert not re.search(r"^\s*(from|import)\s+(bot|handlers|storage)\b", FLOOR.read_text(), re.M)


@pytest.mark.parametrize("aes", [False, True])
async def test_the_floor_answers_a_signed_push_and_refuses_the_rest(aes: bool) -> None:
    sys.path.insert(0, str(FLOOR.parent))
    try:
        import floor
    finally:
        sys.path.remove(str(FLOOR.parent))
    sim = Simulator("bench-token", AES_KEY if aes else "", APP_ID)
    async with TestClient(TestServer(floor.make_app("bench-token", AES_KEY if aes else "", APP_ID))) as client:
        push = sim.sign(sim.text("oFloor_0001", "帮助"))
        response = await client.post("/wechat", params=push.params, data=push.body)
        reply = parse_reply(sim.open_reply(await response.text()))
        assert response.status == 200 and reply["ToUserName"] == "oFloor_0001" and "热门服务" in reply["Content"]
        forged = dict(push.params, **({"msg_signature": "0" * 40} if aes else {"signature": "0" * 40}))
        assert (await client.post("/wechat", params=forged, data=push.body)).status == 403
        bomb = sim.sign('<!DOCTYPE x [<!ENTITY a "a">]><xml><FromUserName>o</FromUserName></xml>')
        assert (await client.post("/wechat", params=bomb.params, data=bomb.body)).status == 400


STATEFUL = FLOOR.parent / "floor_stateful.py"


def test_the_stateful_floor_imports_nothing_of_ours() -> None:
    assert not re.search(r"^\s*(from|import)\s+(bot|handlers|storage)\b", STATEFUL.read_text(), re.M)


async def test_the_stateful_floor_answers_once_and_a_retry_with_an_empty_body(prefix: str) -> None:
    """Its one Redis round trip is the retry guard: the same MsgId again gets WeChat's empty answer."""
    import asyncio
    import os

    from tests.helpers import free_port

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(STATEFUL), "--port", str(port), "--prefix", f"{prefix}:floor",
        env={**os.environ, "PYTHONPATH": str(FLOOR.parent.parent)})
    sim = Simulator("bench-token", "", APP_ID)
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            push = sim.sign(sim.text("oFloor_0002", "帮助", msg_id=424242))
            first = await (await http.post(f"http://127.0.0.1:{port}/wechat", params=push.params,
                                           data=push.body)).text()
            again = await (await http.post(f"http://127.0.0.1:{port}/wechat", params=push.params,
                                           data=push.body)).text()
        assert "热门服务" in parse_reply(first)["Content"] and again == ""
    finally:
        process.terminate()
        await process.wait()
