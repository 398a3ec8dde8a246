"""Processes, ports, configs and images shared by the test modules."""

from __future__ import annotations

import asyncio
import contextlib
import io
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
from PIL import Image

from bot.devkit.simulator import Simulator, parse_reply
from bot.ops.config import new_key
from tests.conftest import APP_ID, APP_SECRET, METRICS_TOKEN, REDIS_URL, TOKEN, Bot
from tests.local_redis import free_port


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buffer, format="PNG")
    return buffer.getvalue()


def write_config(tmp_path: Path, prefix: str, api_base: str, redis_url: str = REDIS_URL, **server: object) -> Path:
    server.setdefault("metrics_token", f'"{METRICS_TOKEN}"')
    lines = [f'[wechat]\ntoken = "{TOKEN}"\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\napi_base = "{api_base}"',
             f'[redis]\nurl = "{redis_url}"\nprefix = "{prefix}"',
             f'[security]\nindex_key = "{new_key()}"\ndata_key = "{new_key()}"\nsigning_keys = "k1:{new_key()}"\n'
             'active_key_id = "k1"',
             '[upstreams]\nallow_standins = ["identity", "face", "sms"]',
             "[server]\n" + "\n".join(f"{k} = {v}" for k, v in server.items())]
    path = tmp_path / f"{prefix}-{len(list(tmp_path.iterdir()))}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Worker:
    """`healthbot serve` as its own process, with a WeChat-like client."""

    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--config", str(config), "--port", str(self.port)],
            stdout=log.open("w"), stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/wechat"
        self.sim = Simulator(TOKEN, "", APP_ID)

    async def ready(self) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(self.url.replace("/wechat", "/healthz")) as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
        raise AssertionError(self.log.read_text())

    async def push(self, http: aiohttp.ClientSession, xml: str) -> tuple[int, dict[str, object]]:
        signed = self.sim.sign(xml)
        async with http.post(self.url, params=signed.params, data=signed.body) as response:
            body = await response.text()
            return response.status, (parse_reply(body) if response.status == 200 else {})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def config_for(bot: Bot, tmp_path: Path, api_base: str = "", redis_url: str = "") -> Path:
    s = bot.services.settings
    path = tmp_path / "healthbot.toml"
    path.write_text(
        f'[wechat]\ntoken = "{s.wechat.token}"\napp_id = "{s.wechat.app_id}"\napp_secret = "{s.wechat.app_secret}"\n'
        f'api_base = "{api_base or s.wechat.api_base}"\n'
        f'[redis]\nurl = "{redis_url or s.redis.url}"\nprefix = "{s.redis.prefix}"\n'
        f'[security]\nindex_key = "{s.security.index_key}"\ndata_key = "{s.security.data_key}"\n'
        f'signing_keys = "{s.security.signing_keys}"\nactive_key_id = "{s.security.active_key_id}"\n', encoding="utf-8")
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    menu = example.read_text(encoding="utf-8").split("# The custom menu", 1)[1]
    path.write_text(path.read_text(encoding="utf-8") + "\n# The custom menu" + menu, encoding="utf-8")
    return path


async def healthbot(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, run without blocking the loop that serves the stand-in WeChat API."""
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", *args,
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return subprocess.CompletedProcess(list(args), process.returncode or 0, out.decode(), err.decode())


class RedisProxy:
    """A loopback proxy in front of the test Redis; `client_sent` sees each chunk a client sends and forwards
    it (True) or stops that connection (False)."""

    def __init__(self) -> None:
        self.cut = False
        self._writers: list[asyncio.StreamWriter] = []
        self.url = ""

    async def __aenter__(self) -> RedisProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cut()
        self._server.close()

    def _cut(self) -> None:
        self.cut = True
        for writer in self._writers:
            writer.close()

    async def client_sent(self, data: bytes, upstream: asyncio.StreamWriter) -> bool:
        upstream.write(data)
        await upstream.drain()
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        host, port = REDIS_URL.removeprefix("redis://").split("/")[0].split(":")
        upstream_reader, upstream = await asyncio.open_connection(host, int(port))
        self._writers += [writer, upstream]

        async def to_redis() -> None:
            with contextlib.suppress(ConnectionError):
                while (data := await reader.read(65536)) and not self.cut:
                    if not await self.client_sent(data, upstream):
                        return
            upstream.close()

        async def to_client() -> None:
            with contextlib.suppress(ConnectionError):
                while (data := await upstream_reader.read(65536)) and not self.cut:
                    writer.write(data)
                    await writer.drain()
            writer.close()

        await asyncio.gather(to_redis(), to_client())


class RedisCutter(RedisProxy):
    """Fails Redis for good at a chosen point: once clients have sent `cut_on` `times` times in all, the chunk
    that completes the count is dropped, every connection is closed, and new ones are closed on arrival."""

    def __init__(self, cut_on: bytes, times: int = 1) -> None:
        super().__init__()
        self.cut_on, self.times, self.seen = cut_on, times, 0

    async def client_sent(self, data: bytes, upstream: asyncio.StreamWriter) -> bool:
        self.seen += data.count(self.cut_on)
        if self.seen >= self.times:
            self._cut()
            return False
        return await super().client_sent(data, upstream)


class RedisHolder(RedisProxy):
    """Redis paused for one command: the first chunk holding `hold_on` reaches Redis `seconds` late, and runs
    then even if its client has given up and gone (as on a Redis that was paused and resumes)."""

    def __init__(self, hold_on: bytes, seconds: float) -> None:
        super().__init__()
        self.hold_on, self.seconds, self.held = hold_on, seconds, asyncio.Event()

    async def client_sent(self, data: bytes, upstream: asyncio.StreamWriter) -> bool:
        if self.hold_on in data and not self.held.is_set():
            self.held.set()
            await asyncio.sleep(self.seconds)
        return await super().client_sent(data, upstream)


def wait_until_up(url: str, seconds: float = 30.0) -> None:
    """Block until `url` answers 200: a server started in another process is ready."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a local test server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not answer within {seconds} s")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


async def headless(url: str, tmp_path: Path, budget_ms: int = 3500, lang: str = "zh-CN") -> str:
    """The page's DOM after `budget_ms` of virtual time in headless Chromium (scripts run, clocks tick), as a
    phone set to `lang` asks for it (Accept-Language)."""
    return (await _chromium(tmp_path, f"--accept-lang={lang}", f"--virtual-time-budget={budget_ms}", "--dump-dom",
                            url)).decode()


async def screenshot(url: str, tmp_path: Path, out: Path, size: str = "430,480", lang: str = "zh-CN") -> None:
    """A phone-sized PNG of the page as Chromium draws it."""
    await _chromium(tmp_path, f"--accept-lang={lang}", "--virtual-time-budget=1500", f"--window-size={size}",
                    f"--screenshot={out}", url)
    assert out.exists(), f"chromium made no screenshot of {url}"


async def _chromium(tmp_path: Path, *args: str) -> bytes:
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, *_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return out


async def click_in_chromium(url: str, tmp_path: Path, button: str, outcome: str) -> str:
    """Open `url` in headless Chromium, click the `button` selector as a person would, and return the text that
    appears in the `outcome` selector (driven over the DevTools protocol: --dump-dom cannot click)."""
    assert CHROMIUM is not None
    process = await asyncio.create_subprocess_exec(
        CHROMIUM, *_FLAGS, f"--user-data-dir={tmp_path / 'chromium-cdp'}", "--accept-lang=zh-CN",
        "--remote-debugging-port=0", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        while b"DevTools listening on" not in (line := await asyncio.wait_for(process.stderr.readline(), 30)):
            assert line, "chromium exited before it listened"
        port = line.decode().split("ws://")[1].split("/")[0].rsplit(":", 1)[1]
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                pages = [t for t in await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                         if t["type"] == "page" and t["url"].startswith(url.split("?")[0])]
                if pages:
                    break
                await asyncio.sleep(0.1)
            assert pages, "chromium opened no page"
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                calls = iter(range(1, 1_000_000))

                async def evaluate(expression: str) -> object:
                    call = next(calls)
                    await ws.send_json({"id": call, "method": "Runtime.evaluate",
                                        "params": {"expression": expression, "returnByValue": True}})
                    while (answer := await ws.receive_json(timeout=30)).get("id") != call:
                        pass
                    if "result" not in answer:  # e.g. the page's context is not there yet
                        return None
                    return answer["result"]["result"].get("value")

                for _ in range(100):  # the page has loaded when the button is there
                    if await evaluate(f"!!document.querySelector({button!r})"):
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"{url} has no {button}")
                await evaluate(f"document.querySelector({button!r}).click()")
                for _ in range(100):
                    shown = await evaluate(f"document.querySelector({outcome!r}).textContent")
                    if shown:
                        return str(shown)
                    await asyncio.sleep(0.1)
        raise AssertionError(f"nothing appeared in {outcome} after clicking {button}")
    finally:
        process.kill()
        await process.wait()
