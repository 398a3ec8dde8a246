"""Redis Cluster: data spreads over the masters, and the three-step binding survives a process dying anywhere.

Every other storage and dialog suite also runs on the local cluster (conftest.CLUSTER_SUITES); these tests are
about what only splitting a binding into slot-local steps could get wrong."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.domain.clock import SettableClock
from storage.connection import RedisClient
from storage.relatives import Place, RelativeStore
from tests.conftest import Bot, BotFactory
from tests.journeys import (
    AGE_6,
    TODAY,
    adult,
    full_claim,
    guardian,
    up_to_agreement,
)
from tests.local_redis import LocalCluster

LEASE, MARGIN = 2, 1


@pytest.fixture
async def bot(make_bot: BotFactory) -> Bot:
    return await make_bot(clock=SettableClock(TODAY))  # the day AGE_6 is six: no face check


async def test_a_cluster_url_spreads_citizens_over_every_master(bot: Bot, local_cluster: LocalCluster,
                                                               redis: RedisClient, prefix: str) -> None:
    users = [f"oCluster_{i:02d}" for i in range(9)]
    for i, user in enumerate(users):
        await guardian(bot, user, adult(i))
        await up_to_agreement(bot, user, AGE_6, "李小宝")
        await bot.say(user, "同意协议并认证")
    replies = [await bot.say(user, "确认承诺") for user in users]
    assert replies.count("[image]") == 3 and await bot.services.relatives.guardians(AGE_6) == 3
    holders = {}
    for user in users:
        for key in [k.decode() async for k in redis.scan_iter(match=bot.services.keys.user_glob(user))]:
            holders.setdefault(user, set()).add(local_cluster.node_of(key))
    assert all(len(nodes) == 1 for nodes in holders.values()), holders  # one user, one slot, one node
    assert {node for nodes in holders.values() for node in nodes} == set(local_cluster.ports)


def short_lease(bot: Bot) -> RelativeStore:
    s = bot.services
    return RelativeStore(s.redis, s.keys, s.vault, max_per_user=8, max_guardians=3, unbind_after=0,
                         lease=LEASE, margin=MARGIN)


async def bind_all(store: RelativeStore, users: list[str], number: str) -> None:
    for user in users:
        assert (await store.bind(user, "李小宝", number, "子女", time.time())).result == "ok"


async def lease_lapses() -> None:
    await asyncio.sleep(LEASE + 1.2)  # Redis TIME counts whole seconds


async def bound_sides(store: RelativeStore, users: list[str], number: str) -> list[str]:
    """The users whose own side holds the binding: the truth the limit is about."""
    return [u for u in users if any(r.index == store.index(number) for r in await store.list(u))]


async def test_a_binding_whose_process_died_before_settling_still_counts(bot: Bot) -> None:
    store, users = short_lease(bot), ["oCrash_a1", "oCrash_a2", "oCrash_a3", "oCrash_a4"]
    await bind_all(store, users[:2], AGE_6)
    place = await store.hold_place(users[2], store.index(AGE_6))
    assert isinstance(place, Place)
    assert (await store.commit(place, "李小宝", AGE_6, "子女", time.time())).result == "ok"
    # ...and the process dies here, before settling.
    assert (await store.bind(users[3], "李小宝", AGE_6, "子女", time.time())).result == "relative_full"
    await lease_lapses()
    assert (await store.bind(users[3], "李小宝", AGE_6, "子女", time.time())).result == "relative_full"
    assert await bound_sides(store, users, AGE_6) == users[:3]
    assert await store.guardians(AGE_6) == 3  # reconciled: the lapsed place is now the binding it was


async def test_a_place_held_by_a_process_that_died_is_freed_after_its_lease(bot: Bot) -> None:
    store, users = short_lease(bot), ["oCrash_b1", "oCrash_b2", "oCrash_b3", "oCrash_b4"]
    await bind_all(store, users[:2], AGE_6)
    stalled = await store.hold_place(users[2], store.index(AGE_6))
    assert isinstance(stalled, Place)
    # ...and that process stalls here. While its lease runs, its place counts:
    assert (await store.bind(users[3], "李小宝", AGE_6, "子女", time.time())).result == "relative_full"
    await lease_lapses()
    assert (await store.bind(users[3], "李小宝", AGE_6, "子女", time.time())).result == "ok"
    # The stalled process wakes up: too late to bind, so a relative can never reach four.
    assert (await store.commit(stalled, "李小宝", AGE_6, "子女", time.time())).result == "busy"
    assert await bound_sides(store, users, AGE_6) == [users[0], users[1], users[3]]
    assert await store.guardians(AGE_6) == 3


async def test_an_unbinding_that_died_before_giving_back_the_place_is_healed(bot: Bot) -> None:
    store, users = short_lease(bot), ["oCrash_c1", "oCrash_c2", "oCrash_c3", "oCrash_c4"]
    await bind_all(store, users[:3], AGE_6)
    assert (await store.remove(users[2], store.index(AGE_6), time.time())).result == "ok"
    # ...and the process dies here, before giving the place back.
    assert (await store.bind(users[3], "李小宝", AGE_6, "子女", time.time())).result == "ok"
    assert await bound_sides(store, users, AGE_6) == [users[0], users[1], users[3]]
    assert await store.guardians(AGE_6) == 3


async def test_a_user_binding_the_same_relative_twice_at_once_gets_one_binding(bot: Bot) -> None:
    store = short_lease(bot)
    outcomes = await asyncio.gather(*(store.bind("oCrash_d1", "李小宝", AGE_6, "子女", time.time())
                                      for _ in range(5)))
    assert [o.result for o in outcomes].count("ok") == 1
    assert {o.result for o in outcomes} <= {"ok", "busy", "duplicate"}
    assert await store.guardians(AGE_6) == 1 and len(await store.list("oCrash_d1")) == 1


async def test_a_signed_query_replayed_with_another_body_is_refused_and_runs_nothing(bot: Bot,
                                                                                    redis: RedisClient) -> None:
    # On one node the check runs inside the turn's script; on a cluster, before it. Either way: 403, no trace.
    timestamp, nonce = str(int(time.time())), "424242"
    first = bot.sim.text("oReplay_1", "帮助")
    assert (await bot.post(first, timestamp=timestamp, nonce=nonce))[0] == 200
    assert (await bot.post(first, timestamp=timestamp, nonce=nonce))[0] == 200  # WeChat's retry: same body
    forged = bot.sim.text("oReplay_2", "防疫健康信息码")
    assert (await bot.post(forged, timestamp=timestamp, nonce=nonce))[0] == 403
    assert [k async for k in redis.scan_iter(match=bot.services.keys.user_glob("oReplay_2"))] == []


async def test_a_venue_entry_lands_in_the_venues_day_and_the_persons_visits(bot: Bot) -> None:
    """One script on one node, one per slot on a cluster: either way both records are there to trace."""
    venues, now = bot.services.venues, time.time()
    await venues.add("venue:clustertest1", "国贸商城", "", "ticket", "", now)
    entry = venues.sealed_entry("venue:clustertest1", {"o": "oVenueCluster_1", "n": "张三"})
    await venues.record("venue:clustertest1", "doc-index-1", entry, now)
    entries = await venues.entries("venue:clustertest1", now - 60, now + 60, now)
    assert [(e.record["o"], e.record["n"]) for e in entries] == [("oVenueCluster_1", "张三")]
    visits = await venues.visits("doc-index-1", now - 60, now + 60, now)
    assert [scene for scene, _, _ in visits] == ["venue:clustertest1"]


async def test_a_scan_through_the_webhook_records_the_entry_on_one_node_and_on_the_cluster(
        make_bot: BotFactory) -> None:
    """On one node the turn's last script writes the entry; on a cluster the venue's slot is another, so the
    handler writes it first: either way the scan's reply comes with both records in place."""
    bot = await make_bot()  # today: an entry expires a retention after its day
    venues, now, user = bot.services.venues, time.time(), "oVenueCluster_2"
    await venues.add("venue:clustertest2", "人民医院", "", "ticket", "", now)
    await full_claim(bot, user, adult(7))
    reply = await bot.push(bot.sim.event(user, "SCAN", "venue:clustertest2"))
    assert reply["MsgType"] == "image"
    entries = await venues.entries("venue:clustertest2", now - 60, now + 60, now)
    assert [e.record["o"] for e in entries] == [user]
    profile = await bot.services.codes.profiles.load(user)
    assert profile is not None
    visits = await venues.visits(profile.doc_index, now - 60, now + 60, now)
    assert [scene for scene, _, _ in visits] == ["venue:clustertest2"]
