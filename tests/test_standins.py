"""Production never runs a stand-in the operator did not name, and the SMS stand-in never sends to WeChat."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from bot.upstreams.http import ProviderUnavailable, SharedSession
from bot.upstreams.sms import StandInSms
from tests.conftest import METRICS_AUTH
from tests.helpers import wait_until_up, write_config
from tests.local_redis import free_port


def production(tmp_path: Path, prefix: str, base: str, standins: str) -> Path:
    """A production config (a token, keys, Redis) whose identity and face are real URLs and sms.url is empty."""
    config = write_config(tmp_path, prefix, base)
    text = config.read_text("utf-8").replace('[upstreams]\nallow_standins = ["identity", "face", "sms"]\n', "")
    text += ('[identity]\nurl = "http://127.0.0.1:9/identity"\n[face]\nurl = "http://127.0.0.1:9/face"\n'
             f"[upstreams]\nallow_standins = [{standins}]\n")
    config.write_text(text, "utf-8")
    return config


def test_an_unnamed_sms_stand_in_stops_startup_naming_the_setting(tmp_path: Path, prefix: str,
                                                                     standin: tuple[str, object]) -> None:
    done = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--config",
                           str(production(tmp_path, prefix, standin[0], "")), "--port", str(free_port())],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "sms.url is empty" in lines[0] and 'allow_standins = ["sms"]' in lines[0]
    assert "Traceback" not in done.stderr


async def test_a_named_sms_stand_in_starts_with_one_warning_and_readyz_lists_it(
        tmp_path: Path, prefix: str, standin: tuple[str, object]) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--config",
                               str(production(tmp_path, prefix, standin[0], '"sms"')), "--port", str(port)],
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                ready = await response.json()
            async with http.get(f"http://127.0.0.1:{port}/metrics", headers=METRICS_AUTH) as response:
                metrics = await response.text()
        assert ready["standins"] == ["sms"]
        assert 'healthbot_standin_upstream{name="sms"} 1.0' in metrics
        time.sleep(0.2)
        warnings = [line for line in log.read_text().splitlines() if "WARNING" in line and "stand-in" in line]
        assert len(warnings) == 1 and warnings[0].split("WARNING", 1)[1].split()[1] == "sms"
    finally:
        server.terminate()
        server.wait(timeout=15)


async def test_the_sms_stand_in_never_sends_to_wechats_api_host() -> None:
    http = SharedSession()
    try:
        for base in ("https://api.weixin.qq.com", "https://api2.weixin.qq.com/"):
            with pytest.raises(ProviderUnavailable):
                await StandInSms(http, base, 1.0, log_codes=False).send("13800001234", "验证码 123456")
    finally:
        await http.close()
