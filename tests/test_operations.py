"""What an operator relies on: the dashboard and alerts query metrics that exist, readiness, proxy addresses."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from bot.ops.metrics import REPLY_BUCKETS, Metrics
from tests.conftest import Bot, BotFactory, Upstream

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def exported(page: str) -> set[str]:
    """Metric names /metrics declares (HELP lines): a labelled counter is declared before its first use."""
    return set(re.findall(r"^# HELP (\S+)", page, re.M))


def named_in(expr: str) -> set[str]:
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in re.findall(r"\bhealthbot_[a-z_]+", expr)}


async def test_every_dashboard_and_alert_query_names_an_exported_metric(bot: Bot) -> None:
    page = await bot.scrape()
    names = exported(page)
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))
    queries += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    assert len(queries) >= 15
    for query in queries:
        if query.startswith("up{"):  # the target-down rule: Prometheus's own series, not ours
            continue
        assert named_in(query), query
        assert named_in(query) <= names, (query, named_in(query) - names)


def test_every_alert_has_a_runbook_entry_and_the_target_down_rule_watches_the_documented_job() -> None:
    rules = [r for g in yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))["groups"]
             for r in g["rules"]]
    operations = (DEPLOY.parent / "docs" / "operations.md").read_text(encoding="utf-8")
    assert rules
    for rule in rules:
        assert rule["annotations"]["runbook"] == f"docs/operations.md, Runbook: {rule['alert']}"
        assert f"#### Runbook: {rule['alert']}\n" in operations, rule["alert"]
    down = next(r for r in rules if r["alert"] == "HealthbotDown")
    assert 'job="healthbot"' in down["expr"] and "job_name: healthbot" in operations
    wanted = {"HealthbotSmsFailing", "HealthbotWeChatTokenRejected", "HealthbotOutsideWindow"}
    assert wanted <= {r["alert"] for r in rules}


async def test_readyz_says_what_is_not_ready(make_bot: BotFactory, upstream: tuple[Upstream, str]) -> None:
    bot = await make_bot()
    ready = await bot.client.get("/readyz")
    assert ready.status == 200 and (await ready.json()) == {"ready": True, "redis": True, "font": True,
                                                            "standins": ["identity", "face", "sms"]}
    _, url = upstream
    with_status = await make_bot(status={"url": url})
    assert (await (await with_status.client.get("/readyz")).json())["status"] is True
    down = await make_bot(status={"url": "http://127.0.0.1:9/nothing-listens-here"})
    answer = await down.client.get("/readyz")
    assert answer.status == 503 and (await answer.json())["status"] is False


async def test_behind_a_proxy_each_client_has_its_own_limit(make_bot: BotFactory) -> None:
    bot = await make_bot(server={"behind_proxy": True}, limits={"verify_per_minute": 2})

    async def verify(client: str) -> int:
        headers = {"X-Forwarded-For": f"203.0.113.9, {client}"}  # the proxy appended the last address
        return (await bot.client.get("/verify", params={"t": "x", "format": "json"}, headers=headers)).status

    assert [await verify("198.51.100.1") for _ in range(3)] == [403, 403, 429]
    assert await verify("198.51.100.2") == 403  # another citizen's phone is not limited by the first


def test_metrics_count_as_prometheus_client_counts() -> None:
    """healthbot counts into prometheus_client's values directly (a push counts four times): the scrape must
    read exactly what Counter.inc and Histogram.observe would have made of the same pushes."""
    ours = Metrics()
    reference = CollectorRegistry()
    histogram = Histogram("healthbot_request_seconds", "", buckets=REPLY_BUCKETS, registry=reference)
    counter = Counter("healthbot_requests", "", ["route", "type"], registry=reference)
    observe_request = ours.series("healthbot_request_seconds")  # as the webhook counts every push
    for seconds in (0.0001, 0.005, 0.0051, 0.3, 3.0, 4.5, 5.0, 7.0):
        observe_request(seconds)
        histogram.observe(seconds)
        ours.inc("healthbot_requests_total", type="text", route="claim")
        counter.labels(route="claim", type="text").inc()
    page, expected = ours.render().decode(), generate_latest(reference).decode()
    wanted = [line for line in expected.splitlines() if line.startswith("healthbot_request") and "_created" not in line]
    assert len(wanted) > 10  # the buckets, sum and count of the histogram, and the counter
    for line in wanted:
        assert line in page.splitlines(), line


async def test_readyz_probes_each_upstream_once_an_interval_whatever_the_call_rate(make_bot: BotFactory) -> None:
    """300 calls at once reach a configured upstream once, and one that hangs costs the first call its
    timeout, not every call three times over."""
    seen: list[str] = []
    hang = asyncio.Event()

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path == "/hang":
            await hang.wait()
        return web.Response(text="up")

    upstream = web.Application()
    upstream.router.add_route("*", "/{name}", answer)
    async with TestServer(upstream) as server:
        bot = await make_bot(status={"url": str(server.make_url("/status"))},
                             results={"url": str(server.make_url("/hang"))})
        started = time.monotonic()
        answers = await asyncio.gather(*(bot.client.get("/readyz") for _ in range(300)))
        took = time.monotonic() - started
        bodies = [await a.json() for a in answers]
        hang.set()
    assert bodies and all(b["status"] is True and b["results"] is False for b in bodies)
    assert {a.status for a in answers} == {503}
    assert sorted(seen) == ["/hang", "/status"]  # one probe each for all 300 calls
    assert took < 5, took  # each call waited for the one probe (1 s timeout), not a probe of its own
