"""Tests run against a real Redis at 127.0.0.1:6379 (own key prefix, own keys cleaned) and real HTTP."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import DISPATCHER, SERVICES, build_app
from bot.devkit.simulator import Simulator, parse_reply
from bot.devkit.standin import STATE, StandInState, create_standin
from bot.domain.clock import Clock
from bot.engine.dispatcher import Dispatcher
from bot.engine.router import Handler, Router
from bot.engine.services import Services
from bot.ops.config import Settings, load_settings, new_key
from storage.connection import RedisClient, connect
from tests.local_redis import LocalCluster, free_port

REDIS_URL = os.environ.get("HEALTHBOT_TEST_REDIS", "redis://127.0.0.1:6379/0")
TOKEN = "healthbot-test-token"
METRICS_TOKEN = "healthbot-test-metrics"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
APP_ID = "wx2c2769f8efd9abc2"
APP_SECRET = "test-app-secret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


TEST_PREFIXES = (b"hbtest-", b"hbjunk-")  # the prefix fixture's, and the million-key test's own (with a TTL)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Tests write into the Redis they are given: refuse one that holds anything else, unless told it is
    shared (a developer's Redis with real data must not take test keys by accident)."""
    if os.environ.get("HEALTHBOT_TEST_REDIS_SHARED") == "1":
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        other = next((k for k in client.scan_iter(count=1000) if not k.startswith(TEST_PREFIXES)), None)
    except redis.RedisError:
        return  # unreachable: the tests that need it say so
    finally:
        client.close()
    if other is not None:
        pytest.exit(f"the test Redis {REDIS_URL} holds keys that are not the tests' (e.g. {other[:40]!r}): point "
                    "HEALTHBOT_TEST_REDIS at an empty database, or set HEALTHBOT_TEST_REDIS_SHARED=1", returncode=2)


# The storage and dialog suites run twice: on the one Redis, and on a local three-master Redis Cluster.
CLUSTER_SUITES = {"test_turns", "test_glances", "test_claim", "test_takeover", "test_relatives", "test_travel",
                  "test_results", "test_lifecycle", "test_wechat_api", "test_cluster"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "redis_url" not in metafunc.fixturenames:
        return
    if "local_cluster" in metafunc.fixturenames:  # a test about the cluster itself
        metafunc.parametrize("redis_url", ["cluster"], indirect=True)
    elif metafunc.module.__name__.rpartition(".")[2] in CLUSTER_SUITES:
        metafunc.parametrize("redis_url", ["single", "cluster"], indirect=True)


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    if getattr(request, "param", "single") == "cluster":
        return request.getfixturevalue("local_cluster").url
    return REDIS_URL


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[RedisClient]:
    client = connect(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: RedisClient) -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys, and only its keys, are deleted afterwards."""
    name = f"hbtest-{secrets.token_hex(4)}"
    yield name
    async for key in redis.scan_iter(match=f"{name}:*", count=500):
        await redis.delete(key)


@pytest.fixture
async def standin() -> AsyncIterator[tuple[str, StandInState]]:
    app = create_standin(APP_ID, APP_SECRET)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/"), app[STATE]
    await server.close()


def make_settings(prefix: str, api_base: str, redis_url: str = REDIS_URL, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {
        "wechat": {"token": TOKEN, "app_id": APP_ID, "app_secret": APP_SECRET, "api_base": api_base},
        "redis": {"url": redis_url, "prefix": prefix},
        "security": {"index_key": new_key(), "data_key": new_key(), "signing_keys": f"k1:{new_key()}",
                     "active_key_id": "k1"},
    }
    overrides["server"] = {"metrics_token": METRICS_TOKEN}  # with no token the webhook's port serves no /metrics
    for name, values in sections.items():
        overrides.setdefault(name, {}).update(values)
    return load_settings(env={}, overrides=overrides)


@dataclass
class Bot:
    """A running app behind a real HTTP test server, and a WeChat-like client for it."""

    client: TestClient
    sim: Simulator
    app: web.Application
    standin: StandInState
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def services(self) -> Services:
        return self.app[SERVICES]

    @property
    def dispatcher(self) -> Dispatcher:
        return self.app[DISPATCHER]

    async def post(self, xml: str, **sign: str) -> tuple[int, str]:
        push = self.sim.sign(xml, **sign)
        response = await self.client.post("/wechat", params=push.params, data=push.body)
        return response.status, await response.text()

    async def push(self, xml: str) -> dict[str, Any]:
        status, body = await self.post(xml)
        assert status == 200, body
        reply = parse_reply(self.sim.open_reply(body))
        self.replies.append(reply)
        return reply

    async def scrape(self) -> str:
        """/metrics as Prometheus scrapes it, with the bearer token."""
        response = await self.client.get("/metrics", headers=METRICS_AUTH)
        assert response.status == 200
        return await response.text()

    async def say(self, openid: str, content: str) -> str:
        """Send text; return the text reply ('' for success, '[image]' for an image)."""
        return await self.say_xml(self.sim.text(openid, content))

    async def say_xml(self, xml: str) -> str:
        return describe(await self.push(xml))

    async def click(self, openid: str, key: str) -> str:
        return describe(await self.push(self.sim.event(openid, "CLICK", key)))


def describe(reply: dict[str, Any]) -> str:
    if not reply:
        return ""
    if reply["MsgType"] == "text":
        return reply["Content"]
    if reply["MsgType"] == "image":
        return "[image]"
    return f"[{reply['MsgType']}]"


BotFactory = Callable[..., Any]


@pytest.fixture
async def make_bot(prefix: str, redis_url: str, standin: tuple[str, StandInState]) -> AsyncIterator[BotFactory]:
    made: list[TestClient] = []
    base, state = standin

    async def factory(*, aes: bool = False, clock: Clock | None = None, routers: list[Router] | None = None,
                      fallback: Handler | None = None, settings: Settings | None = None,
                      **sections: dict[str, Any]) -> Bot:
        if aes:
            sections.setdefault("wechat", {})["encoding_aes_key"] = AES_KEY
        settings = settings or make_settings(prefix, base, redis_url, **sections)
        app = build_app(settings, clock=clock, routers=routers, fallback=fallback)
        client = TestClient(TestServer(app))
        await client.start_server()
        made.append(client)
        sim = Simulator(TOKEN, settings.wechat.encoding_aes_key, APP_ID)
        return Bot(client, sim, app, state)

    yield factory
    for client in made:
        await client.close()


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot()


class Upstream:
    """A stand-in for a provincial identity or health-status service."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: dict[str, Any] | None = {}
        self.status = 200
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append({"body": await request.json(), "auth": request.headers.get("Authorization")})
        await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.Response(status=self.status)
        return web.json_response(self.answer)


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    state = Upstream()
    app = web.Application()
    app.router.add_post("/check", state.handle)
    server = TestServer(app)
    await server.start_server()
    yield state, str(server.make_url("/check"))
    await server.close()


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[tuple[str, Path, int]]:
    """A redis-server of this test's own, with AOF on, that the test may kill and restart."""
    port, data = free_port(), tmp_path / "redis"
    data.mkdir()
    server = shutil.which("redis-server")
    assert server, "redis-server is needed (.ci/run installs it)"
    yield f"redis://127.0.0.1:{port}/0", data, port
    subprocess.run([shutil.which("redis-cli") or "/usr/bin/redis-cli", "-p", str(port), "shutdown", "nosave"],
                   capture_output=True, check=False)
