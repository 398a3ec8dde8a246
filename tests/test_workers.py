"""`healthbot serve --workers 2` as an operator runs it: a killed worker is replaced, nothing is lost, and one
scrape of /metrics counts every worker's pushes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bot.devkit.simulator import Simulator, parse_reply
from bot.devkit.standin import StandInState
from tests.conftest import APP_ID, METRICS_AUTH, TOKEN
from tests.helpers import Worker, free_port, write_config


async def worker_pids(url: str, want: int, seconds: float = 30) -> set[int]:
    """The pids answering /healthz, each probe on a new connection, until `want` are seen."""
    pids: set[int] = set()
    deadline = time.monotonic() + seconds
    while len(pids) < want and time.monotonic() < deadline:
        try:
            async with aiohttp.ClientSession() as http, \
                    http.get(url + "/healthz", headers=METRICS_AUTH) as response:
                pids.add((await response.json())["worker"])
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.02)
    return pids


def requests_total(page: str) -> float:
    return sum(float(v) for v in re.findall(r"^healthbot_requests_total\{[^}]*\} (\S+)$", page, re.M))


async def test_a_killed_worker_is_replaced_and_metrics_sum_over_workers(
        tmp_path: Path, prefix: str, standin: tuple[str, StandInState]) -> None:
    base, _ = standin
    config = write_config(tmp_path, prefix, base)
    port, log = free_port(), tmp_path / "parent.log"
    parent = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port",
                               str(port), "--workers", "2"], stdout=log.open("w"), stderr=subprocess.STDOUT)
    url, sim = f"http://127.0.0.1:{port}", Simulator(TOKEN, "", APP_ID)

    async def pushes(first: int, count: int) -> None:
        for n in range(first, first + count):  # a new connection each: SO_REUSEPORT spreads them over workers
            push = sim.sign(sim.text(f"oWorkers_{n:04d}", "帮助"))
            async with aiohttp.ClientSession() as fresh, \
                    fresh.post(url + "/wechat", params=push.params, data=push.body) as response:
                assert response.status == 200
                assert "回复以下关键词" in parse_reply(await response.text())["Content"]

    try:
        before = await worker_pids(url, 2)
        assert len(before) == 2, log.read_text()
        await pushes(0, 200)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        while "worker replaced" not in log.read_text() and time.monotonic() - killed_at < 2:
            await asyncio.sleep(0.05)
        assert "worker replaced" in log.read_text(), log.read_text()  # started again within 2 s
        assert f"worker pid {victim} exited" in log.read_text()
        after = await worker_pids(url, 2)
        assert len(after) == 2 and victim not in after
        await pushes(200, 200)
        async with aiohttp.ClientSession() as http:
            sums = []
            for _ in range(5):  # each scrape may reach either worker: the sum must be the same
                async with http.get(url + "/metrics", headers=METRICS_AUTH) as response:
                    sums.append(requests_total(await response.text()))
        assert sums == [400.0] * 5
        async with aiohttp.ClientSession() as http, \
                http.get(url + "/metrics", headers=METRICS_AUTH) as response:
            page = await response.text()
        assert re.search(r"^healthbot_worker_replacements_total 1\.0$", page, re.M), page  # the alert can fire
    finally:
        parent.send_signal(signal.SIGTERM)
        parent.wait(30)
    assert parent.returncode == 0


async def test_a_second_server_on_a_served_port_is_refused(tmp_path: Path, prefix: str,
                                                           standin: tuple[str, StandInState]) -> None:
    base, _ = standin
    config = write_config(tmp_path, prefix, base)
    first = Worker(config, tmp_path / "first.log")
    try:
        await first.ready()
        second = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port",
                                 str(first.port), "--workers", "2"], capture_output=True, text=True, timeout=30,
                                check=False)
        assert second.returncode == 2
        assert f"cannot serve on 127.0.0.1:{first.port}" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.stop()
